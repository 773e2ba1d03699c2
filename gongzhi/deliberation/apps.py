"""Deliberation (议事协商): 民事民提、民议、民决、民办、民评."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliberationConfig(AppConfig):
    name = "gongzhi.deliberation"
    verbose_name = _("Deliberation")
