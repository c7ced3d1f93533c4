"""The common registers: organizations, practitioners, and the patient register's history.

Patients themselves (`patients`, `patient_identifiers`) live with the clinical records; what is
here is what identifies them over time: each demographic version with the message that brought
it, merges and unmerges, and the messages held because their patient could not be told for
certain (`unresolved`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, stamp, text


class Organization(Base):
    """A place or organization: what it is, the codes that name it, what it may feed."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[text]
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[stamp]


class OrganizationCode(Base):
    """A code naming an organization: MSH-4, a performing-organization code, a PV1 location."""

    __tablename__ = "organization_codes"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[pk]
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # facility, performing, location, accession-issuer
    value: Mapped[text]


class Practitioner(Base):
    """A practitioner (intervenant): licence and order, where they practise, their keys."""

    __tablename__ = "practitioners"
    __table_args__ = (UniqueConstraint("licence_order", "licence"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    licence: Mapped[text]
    licence_order: Mapped[str] = mapped_column(String(16))  # CMQ, OPQ, OIIQ, OPIQ, ODQ...
    family: Mapped[text]
    given: Mapped[text]
    profession: Mapped[text]
    organizations: Mapped[text]  # JSON list of organization ids
    certificates: Mapped[text]  # JSON list of upper-case SHA-256 fingerprints
    nam: Mapped[text]  # their own NAM, only to recognize consultation of their own record
    created_at: Mapped[stamp]


class PractitionerEvent(Base):
    """Append-only practitioner changes; the newest row is the practitioner's state."""

    __tablename__ = "practitioner_events"

    id: Mapped[pk]
    practitioner_id: Mapped[str] = mapped_column(ForeignKey("practitioners.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # add, import, update, suspend, revoke, reinstate
    state: Mapped[str] = mapped_column(String(16))  # active, suspended, revoked
    operator: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class PractitionerLink(Base):
    """A provider named in a message (OBR-16, ORC-12, RXE-13, PV1-7/8), as sent, and who it is."""

    __tablename__ = "practitioner_links"

    id: Mapped[pk]
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))  # e.g. OBR-16
    sent: Mapped[text]  # the XCN as sent
    practitioner_id: Mapped[str | None] = mapped_column(ForeignKey("practitioners.id"), index=True)


class PatientVersion(Base):
    """One version of a patient's demographics, with the message (or operator) that brought it."""

    __tablename__ = "patient_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[pk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[int]
    family: Mapped[text]
    given: Mapped[text]
    birth_date: Mapped[text]
    sex: Mapped[text]
    address: Mapped[text]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    recorded_at: Mapped[stamp]


class PatientMerge(Base):
    """Append-only merges and unmerges: who was merged into whom, by which message or operator."""

    __tablename__ = "patient_merges"

    id: Mapped[pk]
    action: Mapped[str] = mapped_column(String(8))  # merge, unmerge
    merged_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    operator: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class Unresolved(Base):
    """A message (or DICOM object) whose patient could not be told for certain: held, linked to no one."""

    __tablename__ = "unresolved"

    id: Mapped[pk]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    dicom_instance_id: Mapped[int | None] = mapped_column(ForeignKey("dicom_instances.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # nam-conflict, nam-check, nam-demographics, dicom-patient
    detail: Mapped[text]  # JSON: the identities sent and the candidate patients
    state: Mapped[str] = mapped_column(String(16), index=True)  # open, resolved
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    operator: Mapped[text]
    resolution: Mapped[text]  # the operator's reason
    created_at: Mapped[stamp]
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
