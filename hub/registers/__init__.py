"""The common registers, admin side: organizations and practitioners (specs, changes, listings)."""

from .organizations import import_organizations, list_organizations, organization
from .practitioners import change_state, import_practitioners, list_practitioners, practitioner, state_of
from .specs import (
    OrganizationCodes,
    OrganizationSpec,
    PractitionerSpec,
    read_entries,
    read_organizations,
    read_practitioners,
)

__all__ = [
    "OrganizationCodes",
    "OrganizationSpec",
    "PractitionerSpec",
    "change_state",
    "import_organizations",
    "import_practitioners",
    "list_organizations",
    "list_practitioners",
    "organization",
    "practitioner",
    "read_entries",
    "read_organizations",
    "read_practitioners",
    "state_of",
]
