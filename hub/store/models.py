"""The repository schema, as SQLAlchemy 2 typed models.

Result tables are append-only: a new result status is a new row with the next ``version``
for the same ``key``; the current value is the highest version. Nothing is updated in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

pk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
# Sender data is TEXT: PostgreSQL enforces VARCHAR lengths, and a long value must never turn
# a valid message into a storage failure. Lengths are the certification rules' business.
code = Annotated[str, mapped_column(String(20), default="")]  # values the hub itself sets
text = Annotated[str, mapped_column(Text, default="")]
stamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING)


class Message(Base):
    """An accepted message: raw bytes, the ACK it got, who sent it. Exactly once per key."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("sending_application", "sending_facility", "control_id"),)

    id: Mapped[pk]
    channel: Mapped[text]
    peer: Mapped[text]
    sending_application: Mapped[text]  # MSH-3 raw
    sending_facility: Mapped[text]  # MSH-4 raw
    control_id: Mapped[str] = mapped_column(Text, index=True)  # MSH-10
    message_type: Mapped[text]
    version: Mapped[text]
    charset: Mapped[text]
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    ack: Mapped[bytes] = mapped_column(LargeBinary)
    ack_code: Mapped[str] = mapped_column(String(2))
    warnings: Mapped[text]  # JSON list of the W issues sent in the ACK
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    received_at: Mapped[stamp]
    stored_at: Mapped[stamp]


class JournalEntry(Base):
    """Every attempt, accepted or not: what came, from where, what it was answered, why."""

    __tablename__ = "journal"

    id: Mapped[pk]
    at: Mapped[stamp]
    status: Mapped[code]
    channel: Mapped[text]
    peer: Mapped[text]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # not-stored attempts only
    sending_application: Mapped[text]
    sending_facility: Mapped[text]
    control_id: Mapped[text]
    message_type: Mapped[text]
    ack_code: Mapped[str] = mapped_column(String(2), default="")
    codes: Mapped[text]  # ERR-3 codes, comma separated
    reason: Mapped[text]  # PHI-free: ERR-2 location and English text per issue
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Migration 0002: the hash chain, link decisions and admin changes.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")
    partner_id: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(32), default="")  # link policy reason code
    operator: Mapped[str] = mapped_column(Text, default="")  # admin changes: who


class Patient(Base):
    """A patient known to the repository; demographics are the latest sent."""

    __tablename__ = "patients"

    id: Mapped[pk]
    family: Mapped[text]
    given: Mapped[text]
    birth_date: Mapped[text]
    sex: Mapped[text]
    created_at: Mapped[stamp]
    updated_at: Mapped[stamp]


class PatientIdentifier(Base):
    """PID-3 identifiers; (authority, value) points to exactly one patient."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("authority", "value"),)

    id: Mapped[pk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    value: Mapped[str] = mapped_column(Text, index=True)
    type_code: Mapped[text]
    authority: Mapped[text]
    authority_oid: Mapped[text]
    is_nam: Mapped[bool] = mapped_column(default=False)


class LabOrder(Base):
    """One version of a lab order (OBR)."""

    __tablename__ = "lab_orders"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[pk]
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    placer_number: Mapped[text]
    filler_number: Mapped[str] = mapped_column(Text, index=True)
    code: Mapped[text]
    code_text: Mapped[text]
    code_system: Mapped[text]
    status: Mapped[text]
    observed_at: Mapped[text]
    reported_at: Mapped[text]
    ordering_provider: Mapped[text]
    performing_org: Mapped[text]
    notes: Mapped[text]  # JSON list
    section: Mapped[text]  # OBR-24 (migration 0004)


class LabObservation(Base):
    """One version of one observation (OBX), tied to the order version that carried it."""

    __tablename__ = "lab_observations"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[pk]
    order_id: Mapped[int] = mapped_column(ForeignKey("lab_orders.id"), index=True)
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    set_id: Mapped[text]
    value_type: Mapped[text]
    code: Mapped[text]
    code_text: Mapped[text]
    code_system: Mapped[text]
    alt_code: Mapped[text]
    alt_code_system: Mapped[text]
    sub_id: Mapped[text]
    value_raw: Mapped[text]
    value_text: Mapped[text]
    value_num: Mapped[float | None] = mapped_column(Float)
    units: Mapped[text]
    reference_range: Mapped[text]
    abnormal_flags: Mapped[text]
    status: Mapped[text]
    observed_at: Mapped[text]
    performing_org: Mapped[text]
    notes: Mapped[text]  # JSON list


class MedicationEvent(Base):
    """One pharmacy event (ordered, dispensed, administered, cancelled...) as version N of a prescription."""

    __tablename__ = "medication_events"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[pk]
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[text]
    order_control: Mapped[text]
    status: Mapped[text]
    drug_code: Mapped[text]  # text: a DIN keeps its leading zeros
    drug_system: Mapped[text]
    drug_name: Mapped[text]
    drug_recognized: Mapped[bool] = mapped_column(default=False)
    strength: Mapped[text]
    form: Mapped[text]
    route: Mapped[text]
    dose: Mapped[text]
    quantity: Mapped[text]
    refills: Mapped[text]
    prescriber: Mapped[text]
    pharmacy: Mapped[text]
    occurred_at: Mapped[text]
    prescription_number: Mapped[text]
    notes: Mapped[text]  # JSON list


class ImagingOrder(Base):
    """One version of an imaging order (OMI^O23, ORM^O01)."""

    __tablename__ = "imaging_orders"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[pk]
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    order_control: Mapped[text]
    order_status: Mapped[text]
    placer_number: Mapped[text]
    filler_number: Mapped[text]
    accession: Mapped[str] = mapped_column(Text, index=True)
    requested_procedure_id: Mapped[text]
    study_uid: Mapped[str] = mapped_column(Text, index=True)
    scheduled_step_id: Mapped[text]
    modality: Mapped[text]
    code: Mapped[text]
    code_text: Mapped[text]
    code_system: Mapped[text]
    ordered_at: Mapped[text]
    ordering_provider: Mapped[text]
    section: Mapped[text]


class ImagingReport(Base):
    """One version of a radiology report (ORU^R01 on an imaging channel)."""

    __tablename__ = "imaging_reports"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[pk]
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    placer_number: Mapped[text]
    filler_number: Mapped[text]
    accession: Mapped[str] = mapped_column(Text, index=True)
    study_uid: Mapped[str] = mapped_column(Text, index=True)
    code: Mapped[text]
    code_text: Mapped[text]
    code_system: Mapped[text]
    status: Mapped[text]
    observed_at: Mapped[text]
    reported_at: Mapped[text]
    findings: Mapped[text]  # JSON list of [code, system, text]
    section: Mapped[text]
    text: Mapped[str] = mapped_column(Text, default="")  # last: the name shadows the `text` alias


class ImagingDocument(Base):
    """An encapsulated document (OBX ED) of one report version: bytes, type, hash."""

    __tablename__ = "imaging_documents"

    id: Mapped[pk]
    report_id: Mapped[int] = mapped_column(ForeignKey("imaging_reports.id"), index=True)
    media_type: Mapped[text]
    encoding: Mapped[text]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DicomInstance(Base):
    """One imported DICOM object's metadata (never its pixel data), exactly once per SOP Instance UID."""

    __tablename__ = "dicom_instances"

    id: Mapped[pk]
    sop_instance_uid: Mapped[str] = mapped_column(Text, unique=True)
    sop_class_uid: Mapped[text]
    study_uid: Mapped[str] = mapped_column(Text, index=True)
    series_uid: Mapped[text]
    accession: Mapped[str] = mapped_column(Text, index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    modality: Mapped[text]
    study_date: Mapped[text]
    study_description: Mapped[text]
    series_description: Mapped[text]
    charset: Mapped[text]
    report_text: Mapped[text]  # Basic Text / Enhanced / Comprehensive SR content
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    source: Mapped[text]  # "cli:<operator>" or the channel name
    imported_at: Mapped[stamp]


Index("ix_journal_control", JournalEntry.sending_application, JournalEntry.control_id)


class Partner(Base):
    """A partner system: organization, product and version, category, what it may feed.

    Its state (active, suspended, cut) lives in the append-only `partner_events` table; a cut
    partner's row, identities and events are frozen by database triggers (migration 0002).
    """

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[text]
    organization: Mapped[text]
    category: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[text]
    product_version: Mapped[text]
    domains: Mapped[text]  # JSON list
    channels: Mapped[text]  # JSON list; empty means any channel of its domains
    created_at: Mapped[stamp]


class PartnerIdentity(Base):
    """How a partner is recognized: a TLS certificate fingerprint or an (MSH-3, MSH-4) pair."""

    __tablename__ = "partner_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[pk]
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "certificate" or "msh"
    value: Mapped[text]  # upper-case SHA-256 "AB:CD:..." or "MSH-3.1|MSH-4.1"


class PartnerEvent(Base):
    """Append-only partner state changes; the newest row is the partner's state."""

    __tablename__ = "partner_events"

    id: Mapped[pk]
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # add, import, approve, suspend, cut, update
    state: Mapped[str] = mapped_column(String(16))  # active, suspended, cut
    operator: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class Certificate(Base):
    """A passed certification for one product version (issued by a campaign, #3)."""

    __tablename__ = "certificates"

    id: Mapped[pk]
    product_name: Mapped[text]
    product_version: Mapped[text]
    plan: Mapped[text]
    plan_version: Mapped[text]
    issued_at: Mapped[stamp]
    expires_at: Mapped[stamp]


class JournalHead(Base):
    """The end of the hash chain: one row, updated in the same transaction as the entries."""

    __tablename__ = "journal_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class Campaign(Base):
    """A certification campaign for one product version under one test plan."""

    __tablename__ = "campaigns"

    id: Mapped[pk]
    plan: Mapped[text]  # id-version, or a plan file path
    vendor: Mapped[text]
    product: Mapped[text]
    version: Mapped[text]
    status: Mapped[str] = mapped_column(String(16))  # open, closed
    passed: Mapped[bool | None] = mapped_column(default=None)
    opened_at: Mapped[stamp]
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignMessage(Base):
    """Certification traffic received live: kept here, never in the clinical tables."""

    __tablename__ = "campaign_messages"

    id: Mapped[pk]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    received_at: Mapped[stamp]
    control_id: Mapped[text]
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    answer: Mapped[str] = mapped_column(String(2))
    issues: Mapped[text]  # JSON list
    order_keys: Mapped[text]  # JSON list
