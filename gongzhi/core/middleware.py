"""Absolute session lifetime on top of Django's idle timeout."""

import time

from django.conf import settings
from django.contrib.auth import logout


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = request.session.get("gz_login_at") if request.user.is_authenticated else None
        if started and time.time() - started > settings.GONGZHI_SESSION_ABSOLUTE_SECONDS:
            logout(request)
        return self.get_response(request)
