"""The client's address (X-Forwarded-For only from trusted proxies) and per-address rate limits by method and path."""

import ipaddress
import re
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import RateCounter


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


clock = time.time  # the windows' clock; tests hold it still so a burst never straddles two windows


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
        return count_hit(f"{index}:{address}:{int(clock() // seconds)}", seconds) > count


def count_hit(key: str, seconds: int) -> int:
    """One more hit on `key`; the total so far. One statement shared by every worker process (an UPSERT into
    core.RateCounter, unlogged on PostgreSQL); expired windows are swept by the `sweep_rate_counters` job."""
    table = RateCounter._meta.db_table
    expires = timezone.now() + timedelta(seconds=seconds + 1)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (key, hits, expires) VALUES (%s, 1, %s) "
                       f"ON CONFLICT (key) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits", [key, expires])
        return cursor.fetchone()[0]


def sweep_counters() -> int:
    return RateCounter.objects.filter(expires__lt=timezone.now()).delete()[0]


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
