"""The repository schema, as SQLAlchemy 2 typed models (one module per concern)."""

from .base import Base
from .clinical import (
    DicomInstance,
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Patient,
    PatientIdentifier,
)
from .intake import JournalEntry, JournalHead, Message
from .registers import (
    Organization,
    OrganizationCode,
    PatientMerge,
    PatientVersion,
    Practitioner,
    PractitionerEvent,
    PractitionerLink,
    Unresolved,
)
from .registry import (
    Campaign,
    CampaignMessage,
    Certificate,
    Partner,
    PartnerEvent,
    PartnerIdentity,
    RegistryVersion,
)

__all__ = [
    "Base",
    "Campaign",
    "CampaignMessage",
    "Certificate",
    "DicomInstance",
    "ImagingDocument",
    "ImagingOrder",
    "ImagingReport",
    "JournalEntry",
    "JournalHead",
    "LabObservation",
    "LabOrder",
    "MedicationEvent",
    "Message",
    "Organization",
    "OrganizationCode",
    "Partner",
    "PartnerEvent",
    "PartnerIdentity",
    "Patient",
    "PatientIdentifier",
    "PatientMerge",
    "PatientVersion",
    "Practitioner",
    "PractitionerEvent",
    "PractitionerLink",
    "RegistryVersion",
    "Unresolved",
]
