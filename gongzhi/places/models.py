"""One tree of places from province to unit; every scoped record points at a node of it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    DISTRICT = "district", _("District/County")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    TOWN = "town", _("Town")
    COMMUNITY = "community", _("Community")
    VILLAGE = "village", _("Village")
    ESTATE = "estate", _("Estate")
    GRID = "grid", _("Grid")
    VILLAGER_GROUP = "villager_group", _("Villager group")
    BUILDING = "building", _("Building")
    UNIT = "unit", _("Unit")


DIVISION_KINDS = {Kind.PROVINCE, Kind.CITY, Kind.DISTRICT, Kind.SUBDISTRICT, Kind.TOWN, Kind.COMMUNITY, Kind.VILLAGE}
GRID_KINDS = {Kind.GRID, Kind.VILLAGER_GROUP}
COMMUNITY_KINDS = {Kind.COMMUNITY, Kind.VILLAGE}
SUBDISTRICT_KINDS = {Kind.SUBDISTRICT, Kind.TOWN}

# Which kinds may hang under which: estates and grids nest either way round (a big estate holds
# several grids; a grid may cover several small compounds), rural houses may sit straight in a grid.
ALLOWED_CHILDREN = {
    None: {Kind.PROVINCE},
    Kind.PROVINCE: {Kind.CITY},
    Kind.CITY: {Kind.DISTRICT},
    Kind.DISTRICT: {Kind.SUBDISTRICT, Kind.TOWN},
    Kind.SUBDISTRICT: {Kind.COMMUNITY, Kind.VILLAGE},
    Kind.TOWN: {Kind.COMMUNITY, Kind.VILLAGE},
    Kind.COMMUNITY: {Kind.GRID, Kind.ESTATE},
    Kind.VILLAGE: {Kind.VILLAGER_GROUP, Kind.GRID},
    Kind.ESTATE: {Kind.GRID, Kind.BUILDING},
    Kind.GRID: {Kind.ESTATE, Kind.BUILDING},
    Kind.VILLAGER_GROUP: {Kind.BUILDING},
    Kind.BUILDING: {Kind.UNIT},
    Kind.UNIT: set(),
}
# Where households may be registered.
HOUSEHOLD_PARENT_KINDS = {Kind.UNIT, Kind.BUILDING, Kind.GRID, Kind.VILLAGER_GROUP}


class Place(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    # Divisions carry the 12-digit statistical division code; lower nodes may carry a local code.
    code = models.CharField(_("code"), max_length=32, blank=True, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Materialised path of ids ("/1/4/17/"): "everything under X" is one indexed prefix match.
    # (On PostgreSQL db_index also builds the varchar_pattern_ops index that prefix LIKE needs.)
    path = models.CharField(max_length=255, editable=False, db_index=True)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    boundary = models.JSONField(_("boundary (GeoJSON geometry)"), null=True, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="place_unique_name_in_parent"),
            models.UniqueConstraint(
                fields=["code"], condition=~models.Q(code=""), name="place_unique_code"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_grid(self) -> bool:
        return self.kind in GRID_KINDS

    def ancestors(self):
        ids = [int(p) for p in self.path.strip("/").split("/")[:-1] if p]
        return sorted(Place.objects.filter(id__in=ids), key=lambda p: p.depth)

    def ancestor_of_kind(self, kinds):
        for place in reversed(self.ancestors() + [self]):
            if place.kind in kinds:
                return place
        return None

    def full_name(self) -> str:
        chain = [p for p in self.ancestors() if p.kind not in {Kind.PROVINCE, Kind.CITY}] + [self]
        return "".join(p.name for p in chain)

    def descendants(self, include_self=True):
        qs = Place.objects.filter(path__startswith=self.path)
        return qs if include_self else qs.exclude(pk=self.pk)
