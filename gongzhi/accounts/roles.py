"""The roles a person can hold at a node of the place tree, and what groups of them may do."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    BUILDING_HEAD = "building_head", _("Building head")
    REPRESENTATIVE = "representative", _("Resident representative")
    PARTY_LIAISON = "party_liaison", _("Party household liaison")
    GRID_WORKER = "grid_worker", _("Grid worker")
    GRID_LEADER = "grid_leader", _("Grid leader")
    COMMUNITY_WORKER = "community_worker", _("Community worker")
    COMMUNITY_SECRETARY = "community_secretary", _("Community secretary")
    SUBDISTRICT_OFFICER = "subdistrict_officer", _("Subdistrict officer")
    DEPARTMENT_LIAISON = "department_liaison", _("Department liaison")
    BUREAU_OFFICER = "bureau_officer", _("Civil-affairs bureau officer")


# Staff work the register of the places under their node.
STAFF_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY,
                         Role.SUBDISTRICT_OFFICER, Role.BUREAU_OFFICER})
REGISTER_EDIT_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY})
REGISTER_IMPORT_ROLES = frozenset({Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY})
# Roles whose exports may carry unmasked ID and phone numbers (each such export is logged).
FULL_DATA_EXPORT_ROLES = frozenset({Role.COMMUNITY_SECRETARY})
VISIT_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY,
                         Role.BUILDING_HEAD, Role.PARTY_LIAISON})
# Roles above grid worker: a second factor (TOTP) is required at login (等保 8.1.4.1 c).
OTP_ROLES = frozenset({Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY, Role.SUBDISTRICT_OFFICER,
                       Role.DEPARTMENT_LIAISON, Role.BUREAU_OFFICER})
