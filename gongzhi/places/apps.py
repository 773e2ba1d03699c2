"""The place tree: divisions, grids, estates, buildings and units."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlacesConfig(AppConfig):
    name = "gongzhi.places"
    verbose_name = _("Places")
