"""Periodic jobs run by the background worker; apps register theirs in a jobs.py module."""

import importlib
import logging
from dataclasses import dataclass
from typing import Callable

from django.apps import apps

log = logging.getLogger("gongzhi.worker")


@dataclass
class Job:
    name: str
    every_seconds: int
    func: Callable[[], object]


JOBS: dict[str, Job] = {}


def periodic(every_seconds: int):
    def register(func):
        JOBS[f"{func.__module__}.{func.__name__}"] = Job(f"{func.__module__}.{func.__name__}", every_seconds, func)
        return func
    return register


def discover() -> dict[str, Job]:
    for config in apps.get_app_configs():
        if config.name.startswith("gongzhi."):
            try:
                importlib.import_module(f"{config.name}.jobs")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.jobs":
                    raise
    return JOBS


def run_job(job: Job) -> bool:
    try:
        job.func()
        return True
    except Exception:  # one failing job must not stop the others
        log.exception("job %s failed", job.name)
        return False


@periodic(every_seconds=24 * 3600)
def archive_audit_trail():
    """Move audit entries older than the retention (GONGZHI_AUDIT_RETENTION_DAYS) into an archive file."""
    from . import audit
    audit.archive()


@periodic(every_seconds=600)
def sweep_rate_counters():
    """Drop rate-limit counters of windows that have ended."""
    from .ratelimit import sweep_counters
    return sweep_counters()
