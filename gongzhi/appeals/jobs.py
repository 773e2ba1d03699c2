"""Periodic jobs: flag overdue appeals and escalate them by rule, with no one needing to click."""

from gongzhi.core.jobs import periodic

from . import services


@periodic(every_seconds=300)
def escalate_overdue():
    return services.flag_overdue()
