"""The household register (一表通): organisations, households, persons and door-knocking visits."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "gongzhi.registry"
    verbose_name = _("Household register")
