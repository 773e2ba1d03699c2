"""Open311 GeoReport v2 addresses under /open311/v2/: every resource ends in .xml or .json."""

from django.urls import re_path

from . import open311

FMT = r"\.(?P<fmt>xml|json)$"

app_name = "open311"
urlpatterns = [
    re_path(rf"^discovery{FMT}", open311.discovery, name="discovery"),
    re_path(rf"^services{FMT}", open311.service_list, name="services"),
    re_path(rf"^services/(?P<code>[-\w]+){FMT}", open311.service_definition, name="service"),
    re_path(rf"^requests{FMT}", open311.requests, name="requests"),
    re_path(rf"^requests/(?P<pk>[0-9]{{1,18}}){FMT}", open311.request_detail, name="request"),
    re_path(rf"^tokens/(?P<token>[^/]+){FMT}", open311.token, name="token"),
    re_path(r"", open311.unknown),  # anything else: the spec's 404 error document, not an HTML page
]
