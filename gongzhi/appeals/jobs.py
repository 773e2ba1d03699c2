"""Periodic jobs: escalate overdue appeals by rule, close those left unrated and keep the metrics rollup fresh."""

from gongzhi.core.jobs import periodic

from . import services


@periodic(every_seconds=300)
def escalate_overdue():
    return services.flag_overdue()


@periodic(every_seconds=3600)
def close_unrated():
    return services.close_unrated()


@periodic(every_seconds=300)
def refresh_rollups():
    return services.refresh_rollups()
