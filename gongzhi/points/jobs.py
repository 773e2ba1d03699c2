"""Periodic points jobs: take back expired, unspent points once a day."""

from gongzhi.core.jobs import periodic

from . import services


@periodic(every_seconds=24 * 3600)
def expire_points():
    services.expire_points()
