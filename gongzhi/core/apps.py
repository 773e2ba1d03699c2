"""Cross-cutting pieces: personal-data crypto, access log, the page shell, the background worker."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gongzhi.core"
    verbose_name = _("Core")

    def ready(self):
        from . import signals  # noqa: F401
