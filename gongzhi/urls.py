"""URL map: pages per app, the API under /api/, admin, language switch."""

from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("", include("gongzhi.core.urls")),
    path("accounts/", include("gongzhi.accounts.urls")),
    path("places/", include("gongzhi.places.urls")),
    path("registry/", include("gongzhi.registry.urls")),
    path("appeals/", include("gongzhi.appeals.urls")),
    path("deliberation/", include("gongzhi.deliberation.urls")),
    path("points/", include("gongzhi.points.urls")),
    path("api/", api.urls),
    path("open311/v2/", include("gongzhi.appeals.open311_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
