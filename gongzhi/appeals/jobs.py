"""Periodic jobs: escalate overdue appeals by rule and close those left unrated, with no one needing to click."""

from gongzhi.core.jobs import periodic

from . import services


@periodic(every_seconds=300)
def escalate_overdue():
    return services.flag_overdue()


@periodic(every_seconds=3600)
def close_unrated():
    return services.close_unrated()
