"""Whose study a DICOM object is: accession numbers are scoped to the organization that issued them.

The object's organization is the one its Issuer of Accession Number (0008,0051) names (an
`accession-issuer` code of the organization register), else its sending partner's, else the one
the operator names on import. It is linked only to HL7 imaging orders and reports that the same
organization's partners sent, by accession number or Study Instance UID; without an
organization it is linked to none.

Linked, its patient is the order's, unless its Patient ID names someone else: then it is held
unresolved with both identities, filed under neither. Not linked, its Patient ID (under its
Issuer of Patient ID, else under the organization) finds or makes the patient.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, insert, or_, select

from hub.store.driver import Driver
from hub.store.models import (
    ImagingOrder,
    ImagingReport,
    Message,
    OrganizationCode,
    Partner,
    PatientIdentifier,
    Unresolved,
)
from hub.store.patients import PatientIndex
from hub.store.rows import patient_id_or_none
from mappings.dicom import DicomObject

imaging_orders = cast(Table, ImagingOrder.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)
messages = cast(Table, Message.__table__)
partners = cast(Table, Partner.__table__)
codes = cast(Table, OrganizationCode.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
unresolved = cast(Table, Unresolved.__table__)


def organization_of(conn: Connection, obj: DicomObject, partner_id: str, named: str) -> str:
    """The organization that issued the object's accession number, "" when none can be told."""
    if obj.accession_issuer:
        row = conn.execute(
            select(codes.c.organization_id).where(
                codes.c.kind == "accession-issuer", codes.c.value == obj.accession_issuer
            )
        ).first()
        if row is not None:
            return str(row.organization_id)
    if partner_id:
        row = conn.execute(select(partners.c.organization).where(partners.c.id == partner_id)).first()
        if row is not None and row.organization:
            return str(row.organization)
    return named


def linked(conn: Connection, obj: DicomObject, organization: str) -> list[tuple[str, int | None]]:
    """(key, patient id) of the organization's orders and reports sharing the accession or Study UID, newest first."""
    if not organization:
        return []
    out: list[tuple[str, int | None]] = []
    for table in (imaging_reports, imaging_orders):
        match: list[Any] = [table.c.study_uid == obj.study_uid]
        if obj.accession:
            match.append(table.c.accession == obj.accession)
        rows = conn.execute(
            select(table.c.key, table.c.patient_id)
            .join(messages, messages.c.id == table.c.message_id)
            .join(partners, partners.c.id == messages.c.partner_id)
            .where(and_(or_(*match), partners.c.organization == organization))
            .order_by(table.c.id.desc())
        ).all()
        out.extend((r.key, r.patient_id) for r in rows)
    return out


def contradiction(conn: Connection, obj: DicomObject, patient: int | None) -> dict[str, Any] | None:
    """Both identities when the object's Patient ID is not one of the linked patient's, else None."""
    if not obj.patient.identifiers:
        return None
    sent = obj.patient.identifiers[0]
    held = conn.execute(
        select(identifiers.c.authority, identifiers.c.value).where(identifiers.c.patient_id == patient)
    ).all()
    if patient is not None and any(
        r.value == sent.value and (not sent.authority or r.authority == sent.authority) for r in held
    ):
        return None
    return {
        "dicom": {
            "patient_id": sent.value,
            "issuer": sent.authority,
            "name": f"{obj.patient.family}^{obj.patient.given}",
        },
        "order_patient": patient,
        "order_identifiers": [{"authority": r.authority, "value": r.value} for r in held],
    }


def patient_from_id(conn: Connection, obj: DicomObject, organization: str, now: datetime) -> int | None:
    """The patient the Patient ID designates under its issuer (else the organization), found or made."""
    person = obj.patient
    ident = person.identifiers[0]
    authority = ident.authority or organization or "DICOM"
    person = replace(person, identifiers=(replace(ident, authority=authority),))
    index = PatientIndex(Driver(conn), now)
    index.driver.read_all(index.reads([person]))
    resolution = index.resolve(person)
    if resolution.reason:
        return None
    ref = index.attach(person, resolution, -1)
    new = index.new_patients
    if new:
        ids = index.driver.new_ids({"patients": len(new)})["patients"]
        for patient, new_id in zip(new, ids, strict=True):
            patient.id = new_id
    index.write_patients(index.driver)
    index.write_after(index.driver, [])
    return patient_id_or_none(ref)


def hold(conn: Connection, instance_id: int, detail: dict[str, Any], now: datetime) -> int:
    """Hold the object unresolved; the hold's id."""
    row = {"dicom_instance_id": instance_id, "reason": "dicom-patient", "state": "open", "created_at": now}
    result = conn.execute(insert(unresolved).returning(unresolved.c.id), {**row, "detail": json.dumps(detail)})
    return int(result.scalar_one())
