"""The client's address (X-Forwarded-For only from trusted proxies) and per-address rate limits by method and path."""

import ipaddress
import re
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def client_ip(request):
    """REMOTE_ADDR, or with GONGZHI_TRUSTED_PROXY_COUNT = n the address n hops back in X-Forwarded-For
    (each trusted proxy appends the address it saw; anything further left could be forged by the client)."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.GONGZHI_TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        try:
            return str(ipaddress.ip_address(forwarded[-hops]))
        except ValueError:
            pass
    return remote


def _rules():
    for methods, pattern, count, seconds in settings.GONGZHI_RATE_LIMITS:
        yield set(methods.upper().split(",")), re.compile(pattern), count, seconds


class RateLimitMiddleware:
    """GONGZHI_RATE_LIMITS: (methods, path regex, count, seconds); over the count within the window → 429."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.rules = list(_rules())

    def __call__(self, request):
        for index, (methods, pattern, count, seconds) in enumerate(self.rules):
            if request.method in methods and pattern.search(request.path_info):
                if self.hit(index, client_ip(request), count, seconds):
                    return too_many(request, seconds)
        return self.get_response(request)

    @staticmethod
    def hit(index, address, count, seconds) -> bool:
        """Count this request in its fixed window; True when it is over the limit."""
        cache = caches[settings.GONGZHI_RATE_LIMIT_CACHE]
        key = f"gz-rl:{index}:{address}:{int(time.time() // seconds)}"
        if cache.add(key, 1, seconds + 1):
            return count < 1
        try:
            return cache.incr(key) > count
        except ValueError:  # expired between add and incr
            cache.set(key, 1, seconds + 1)
            return count < 1


def too_many(request, retry_after):
    message = _("Too many requests from your address. Please wait a minute and try again.")
    path = request.path_info
    if path.startswith("/open311/"):
        # Open311 GeoReport v2 error documents.
        if path.endswith(".xml"):
            body = f'<?xml version="1.0" encoding="utf-8"?><errors><error><code>429</code>' \
                   f"<description>{message}</description></error></errors>"
            response = HttpResponse(body, content_type="text/xml; charset=utf-8", status=429)
        else:
            response = JsonResponse([{"code": 429, "description": message}], safe=False, status=429)
    elif path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
