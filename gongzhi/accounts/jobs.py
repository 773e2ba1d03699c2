"""Housekeeping: drop expired sessions and expired API tokens."""

from django.contrib.sessions.models import Session
from django.utils import timezone

from gongzhi.core.jobs import periodic

from .models import ApiToken


@periodic(every_seconds=3600)
def clear_expired_sessions():
    Session.objects.filter(expire_date__lt=timezone.now()).delete()
    ApiToken.objects.filter(expires_at__lt=timezone.now()).delete()
