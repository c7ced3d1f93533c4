"""The register's side of a patient's read model: identity, versions, merges, and who each record names.

`patient_record` (hub/store/queries.py) reads the records of a patient and of every patient merged
into it; this module gives the patient's identity (identifiers with their authorities, the
demographic versions, the merges) and annotates each record version with the register entries
it refers to: the practitioners its message names, the organization of the partner that sent
it, and for lab records the organization its performing-organization code names.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import (
    Message,
    Organization,
    OrganizationCode,
    Partner,
    Patient,
    PatientIdentifier,
    PatientMerge,
    PatientVersion,
    Practitioner,
    PractitionerEvent,
    PractitionerLink,
)


def survivors(s: Session, patient_ids: list[int]) -> list[int]:
    """The patients these ids are now: a merged patient is read as its survivor."""
    rows = s.execute(select(Patient.id, Patient.merged_into).where(Patient.id.in_(patient_ids))).all()
    return sorted({r.merged_into or r.id for r in rows})


def cluster(s: Session, patient_id: int) -> list[int]:
    """The patient and every patient merged into it."""
    merged = s.scalars(select(Patient.id).where(Patient.merged_into == patient_id)).all()
    return [patient_id, *sorted(merged)]


def identity(s: Session, patient: Patient, ids: list[int]) -> dict[str, Any]:
    """Identifiers (the merged patients' too, marked), current demographics, versions, merges."""
    idents = s.scalars(
        select(PatientIdentifier).where(PatientIdentifier.patient_id.in_(ids)).order_by(PatientIdentifier.id)
    ).all()
    versions = s.scalars(
        select(PatientVersion).where(PatientVersion.patient_id == patient.id).order_by(PatientVersion.version)
    ).all()
    events = s.scalars(
        select(PatientMerge)
        .where((PatientMerge.survivor_id == patient.id) | (PatientMerge.merged_id == patient.id))
        .order_by(PatientMerge.id)
    ).all()
    return {
        "id": patient.id,
        "identifiers": [
            {"value": i.value, "type": i.type_code, "authority": i.authority, "is_nam": i.is_nam}
            | ({"merged_from": i.patient_id} if i.patient_id != patient.id else {})
            for i in idents
        ],
        "family": patient.family,
        "given": patient.given,
        "birth_date": patient.birth_date or None,
        "sex": patient.sex,
        "address": patient.address,
        "version": patient.version,
        "history": [_demographics(v) for v in reversed(versions)],
        "merged": ids[1:],
        "merged_into": patient.merged_into,
        "merges": [
            {"action": e.action, "merged": e.merged_id, "survivor": e.survivor_id, "message_id": e.message_id}
            | {"operator": e.operator, "reason": e.reason, "at": e.at.isoformat()}
            for e in events
        ],
    }


def _demographics(v: PatientVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "family": v.family,
        "given": v.given,
        "birth_date": v.birth_date or None,
        "sex": v.sex,
        "address": v.address,
        "message_id": v.message_id,
        "recorded_at": v.recorded_at.isoformat(),
    }


def annotate(s: Session, record: dict[str, Any]) -> None:
    """Add `practitioners` and `organization` (register entries) to every record version in `record`."""
    found: list[dict[str, Any]] = []
    _collect(record, found)
    message_ids = sorted({d["message_id"] for d in found if d["message_id"] is not None})
    if not message_ids:
        return
    named: dict[int, list[dict[str, Any]]] = defaultdict(list)
    links = s.execute(
        select(PractitionerLink, Practitioner)
        .outerjoin(Practitioner, Practitioner.id == PractitionerLink.practitioner_id)
        .where(PractitionerLink.message_id.in_(message_ids))
        .order_by(PractitionerLink.id)
    ).all()
    states = _states(s, [p.id for _l, p in links if p is not None])
    for link, person in links:
        entry: dict[str, Any] = {"field": link.field, "sent": link.sent, "practitioner": None}
        if person is not None:
            entry["practitioner"] = _practitioner(person, states.get(person.id, "active"))
        named[link.message_id].append(entry)
    orgs = s.execute(
        select(Message.id, Organization)
        .join(Partner, Partner.id == Message.partner_id)
        .join(Organization, Organization.id == Partner.organization)
        .where(Message.id.in_(message_ids))
    ).all()
    by_message = {mid: {"id": o.id, "name": o.name, "type": o.type} for mid, o in orgs}
    performing = _performing(s, {d["performing_org"] for d in found if d.get("performing_org")})
    for d in found:
        d["practitioners"] = named.get(d["message_id"], [])
        d["organization"] = by_message.get(d["message_id"])
        if "performing_org" in d:
            d["performing_organization"] = performing.get(d["performing_org"])


def _performing(s: Session, codes: set[str]) -> dict[str, dict[str, Any]]:
    """The register's organizations named by these performing-organization (or MSH-4) codes."""
    if not codes:
        return {}
    rows = s.execute(
        select(OrganizationCode.value, Organization)
        .join(Organization, Organization.id == OrganizationCode.organization_id)
        .where(OrganizationCode.kind.in_(("performing", "facility")), OrganizationCode.value.in_(sorted(codes)))
        .order_by(OrganizationCode.kind.desc())  # a performing code before a facility one
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for value, o in rows:
        out.setdefault(value, {"id": o.id, "name": o.name, "type": o.type})
    return out


def _collect(node: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if "message_id" in node and "version" in node:
            out.append(node)
        for value in list(node.values()):
            _collect(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect(value, out)


def _states(s: Session, ids: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    if ids:
        rows = s.execute(
            select(PractitionerEvent.practitioner_id, PractitionerEvent.state)
            .where(PractitionerEvent.practitioner_id.in_(ids))
            .order_by(PractitionerEvent.id)
        )
        for pid, state in rows:
            states[pid] = state
    return states


def _practitioner(p: Practitioner, state: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "licence": p.licence,
        "order": p.licence_order,
        "family": p.family,
        "given": p.given,
        "profession": p.profession,
        "organizations": json.loads(p.organizations or "[]"),
        "state": state,
    }
