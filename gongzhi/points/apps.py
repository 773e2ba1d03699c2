"""Points (公益服务积分; 村规民约+积分制; 积分超市): ledger, rulebook and claims, volunteering, points store."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    name = "gongzhi.points"
    verbose_name = _("Points")
