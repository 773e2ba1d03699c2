"""Appeals (诉求): intake, tiered handling, escalation, rating, time limits and metrics."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    name = "gongzhi.appeals"
    verbose_name = _("Appeals")
