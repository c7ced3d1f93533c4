"""The clinical records: patients, lab orders and results, medication events, imaging, DICOM.

Result tables are append-only: a new result status is a new row with the next ``version``
for the same ``key``; the current value is the highest version. Nothing is updated in place.
"""

from __future__ import annotations

from sqlalchemy import (
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, stamp, text


class Patient(Base):
    """A patient of the register; the columns repeat the current demographic version.

    Every version is kept in `patient_versions`; `merged_into` names the surviving patient
    while this one is merged (the history is in `patient_merges`).
    """

    __tablename__ = "patients"

    id: Mapped[pk]
    family: Mapped[text]
    given: Mapped[text]
    birth_date: Mapped[text]
    sex: Mapped[text]
    created_at: Mapped[stamp]
    updated_at: Mapped[stamp]
    address: Mapped[text]  # migration 0006
    version: Mapped[int] = mapped_column(default=1)  # the current demographic version's number
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)


class PatientIdentifier(Base):
    """PID-3 identifiers; (authority, value) points to exactly one patient.

    The authority is never empty for an identifier stored since migration 0006: an empty
    PID-3.4 is read as the sending partner's first authority, and a NAM's is always RAMQ.
    """

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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
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
    organization_id: Mapped[text]  # who issued its accession number (migration 0006)
