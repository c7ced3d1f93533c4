"""The repository schema, as SQLAlchemy 2 typed models (one module per concern)."""

from .audit import AuditLease, AuditOutbox
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
from .console import ConsoleJob, ConsoleSession, Operator, OperatorEvent
from .consult import ConsultToken, Refusal, RefusalWithdrawal
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
    "AuditLease",
    "AuditOutbox",
    "Base",
    "Campaign",
    "CampaignMessage",
    "Certificate",
    "ConsoleJob",
    "ConsoleSession",
    "ConsultToken",
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
    "Operator",
    "OperatorEvent",
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
    "Refusal",
    "RefusalWithdrawal",
    "RegistryVersion",
    "Unresolved",
]
