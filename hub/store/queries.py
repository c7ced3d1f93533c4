"""The read side: message listings and everything held for one patient (ORM reads)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from hub.store import patient_view
from hub.store.models import (
    AuditOutbox,
    DicomInstance,
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    JournalEntry,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Patient,
    PatientIdentifier,
)


def audit_waiting(conn: Connection) -> int:
    """Security events not yet delivered to the audit collector (the console's board, `audit status`)."""
    return int(conn.execute(select(func.count()).where(AuditOutbox.sent_at.is_(None))).scalar_one())


def list_messages(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest attempts from the journal, newest first."""
    with Session(engine) as s:
        rows = s.scalars(select(JournalEntry).order_by(JournalEntry.id.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "channel": r.channel,
                "sender": f"{r.sending_application}/{r.sending_facility}" if r.sending_application else "",
                "control_id": r.control_id,
                "message_type": r.message_type,
                "status": r.status,
                "ack_code": r.ack_code,
                "codes": r.codes,
                "reason": r.reason,
                "message_id": r.message_id,
            }
            for r in rows
        ]


def find_patients(engine: Engine, identifier: str) -> list[int]:
    """The patients holding this identifier value (any authority; ``AUTHORITY:VALUE`` for one), as they are now.

    A merged patient's identifier finds its survivor.
    """
    with Session(engine) as s:
        query = select(PatientIdentifier.patient_id).where(PatientIdentifier.value == identifier)
        authority, sep, value = identifier.rpartition(":")
        if sep and authority:
            scoped = (PatientIdentifier.authority == authority) & (PatientIdentifier.value == value)
            query = select(PatientIdentifier.patient_id).where((PatientIdentifier.value == identifier) | scoped)
        ids = sorted(set(s.scalars(query)))
        return patient_view.survivors(s, ids) if ids else []


_OBS_FIELDS = (
    "set_id", "value_type", "code", "code_text", "code_system", "alt_code", "alt_code_system", "sub_id",
    "value_raw", "value_text", "value_num", "units", "reference_range", "abnormal_flags", "status",
    "observed_at", "performing_org",
)  # fmt: skip
_ORDER_FIELDS = (
    "placer_number", "filler_number", "code", "code_text", "code_system", "status", "observed_at",
    "reported_at", "ordering_provider", "performing_org",
)  # fmt: skip


def patient_record(engine: Engine, patient_id: int) -> dict[str, Any]:
    """Everything the repository holds for a patient (the JSON read model of `passerelle show patient --json`)."""
    with Session(engine) as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError(patient_id)
        ids = patient_view.cluster(s, patient_id)  # the records of patients merged into it too
        orders = s.scalars(
            select(LabOrder).where(LabOrder.patient_id.in_(ids)).order_by(LabOrder.key, LabOrder.version)
        ).all()
        observations = s.scalars(
            select(LabObservation)
            .where(LabObservation.patient_id.in_(ids))
            .order_by(LabObservation.key, LabObservation.version)
        ).all()
        record = {
            "lab": {"orders": _orders(orders, observations)},
            "pharmacy": {"medications": _medications(s, ids)},
            "imaging": _imaging(s, ids),
        }
        patient_view.annotate(s, record)
        return {"patient": patient_view.identity(s, patient, ids), **record}


def _version(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in fields}
    out["version"] = row.version
    out["message_id"] = row.message_id
    out["notes"] = json.loads(row.notes or "[]")
    return out


def _orders(orders: Any, observations: Any) -> list[dict[str, Any]]:
    by_order_key: dict[str, list[Any]] = defaultdict(list)
    for order in orders:
        by_order_key[order.key].append(order)
    order_key_of = {o.id: o.key for o in orders}
    obs_by_key: dict[str, list[Any]] = defaultdict(list)
    for obs in observations:
        obs_by_key[obs.key].append(obs)
    obs_keys_by_order: dict[str, list[str]] = defaultdict(list)
    for key, versions in obs_by_key.items():
        order_key = order_key_of[versions[0].order_id]
        obs_keys_by_order[order_key].append(key)
    out = []
    for key, versions in by_order_key.items():
        current, *older = reversed(versions)
        obs_out: list[dict[str, Any]] = []
        for obs_key in obs_keys_by_order.get(key, []):
            obs_current, *obs_older = reversed(obs_by_key[obs_key])
            obs_out.append(
                {
                    "key": obs_key,
                    "current": _version(obs_current, _OBS_FIELDS),
                    "history": [_version(o, _OBS_FIELDS) for o in obs_older],
                }
            )
        obs_out.sort(key=lambda o: _set_order(o["current"]["set_id"]))
        out.append(
            {
                "key": key,
                "current": _version(current, _ORDER_FIELDS),
                "history": [_version(o, _ORDER_FIELDS) for o in older],
                "observations": obs_out,
            }
        )
    return out


def _set_order(set_id: str) -> tuple[int, str]:
    return (int(set_id), "") if set_id.isdigit() else (1 << 30, set_id)


_MED_FIELDS = (
    "kind", "order_control", "status", "drug_code", "drug_system", "drug_name", "drug_recognized", "strength",
    "form", "route", "dose", "quantity", "refills", "prescriber", "pharmacy", "occurred_at", "prescription_number",
)  # fmt: skip
_INACTIVE = frozenset({"cancelled", "discontinued"})


def _medications(s: Session, patient_ids: list[int]) -> list[dict[str, Any]]:
    """One entry per prescription: its current state and every event, oldest first."""
    events = s.scalars(
        select(MedicationEvent)
        .where(MedicationEvent.patient_id.in_(patient_ids))
        .order_by(MedicationEvent.key, MedicationEvent.version)
    ).all()
    by_key: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_key[event.key].append(event)
    out = []
    for key, versions in by_key.items():
        current = versions[-1]
        # The drug as last described: a cancellation often names it too, but may not.
        described = next((v for v in reversed(versions) if v.drug_code or v.drug_name), current)
        out.append(
            {
                "key": key,
                "status": current.status,
                "active": current.status not in _INACTIVE,
                "drug": {
                    "code": described.drug_code,
                    "system": described.drug_system,
                    "name": described.drug_name,
                    "recognized": described.drug_recognized,
                },
                "events": [_version(v, _MED_FIELDS) for v in versions],
            }
        )
    return out


_IMG_ORDER_FIELDS = (
    "order_control", "order_status", "placer_number", "filler_number", "accession", "requested_procedure_id",
    "study_uid", "scheduled_step_id", "modality", "code", "code_text", "code_system", "ordered_at",
    "ordering_provider",
)  # fmt: skip
_REPORT_FIELDS = (
    "placer_number", "filler_number", "accession", "study_uid", "code", "code_text", "code_system", "status",
    "observed_at", "reported_at", "text",
)  # fmt: skip


def _report_version(row: Any, documents: dict[int, list[Any]]) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in _REPORT_FIELDS}
    out["version"] = row.version
    out["message_id"] = row.message_id
    out["findings"] = json.loads(row.findings or "[]")
    out["documents"] = [
        {"media_type": d.media_type, "sha256": d.sha256, "size": d.size} for d in documents.get(row.id, [])
    ]
    return out


def _imaging(s: Session, patient_ids: list[int]) -> dict[str, Any]:
    """Orders and reports (current and history), and the DICOM studies linked to them."""
    orders = s.scalars(
        select(ImagingOrder)
        .where(ImagingOrder.patient_id.in_(patient_ids))
        .order_by(ImagingOrder.key, ImagingOrder.version)
    ).all()
    reports = s.scalars(
        select(ImagingReport)
        .where(ImagingReport.patient_id.in_(patient_ids))
        .order_by(ImagingReport.key, ImagingReport.version)
    ).all()
    documents: dict[int, list[Any]] = defaultdict(list)
    if reports:
        for doc in s.scalars(select(ImagingDocument).where(ImagingDocument.report_id.in_([r.id for r in reports]))):
            documents[doc.report_id].append(doc)
    # Only the patient's own studies: an accession number is another facility's elsewhere, and a
    # study linked to an order was filed under the order's patient at import (or held).
    instances = s.scalars(
        select(DicomInstance).where(DicomInstance.patient_id.in_(patient_ids)).order_by(DicomInstance.id)
    ).all()
    return {
        "orders": _versioned(orders, lambda r: _version_plain(r, _IMG_ORDER_FIELDS)),
        "reports": _versioned(reports, lambda r: _report_version(r, documents)),
        "studies": _studies(instances, orders, reports),
    }


def _version_plain(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in fields}
    out["version"] = row.version
    out["message_id"] = row.message_id
    return out


def _versioned(rows: Any, render: Any) -> list[dict[str, Any]]:
    by_key: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_key[r.key].append(r)
    return [
        {"key": key, "current": render(versions[-1]), "history": [render(v) for v in reversed(versions[:-1])]}
        for key, versions in by_key.items()
    ]


def _studies(instances: Any, orders: Any, reports: Any) -> list[dict[str, Any]]:
    """One entry per Study Instance UID, with counts and the HL7 orders and reports it links to."""
    by_study: dict[str, list[Any]] = defaultdict(list)
    for inst in instances:
        by_study[inst.study_uid].append(inst)
    out = []
    for uid, objs in by_study.items():
        accessions = {o.accession for o in objs if o.accession}

        def linked(rows: Any, accessions: set[str] = accessions, uid: str = uid) -> list[str]:
            keys = (r.key for r in rows if r.study_uid == uid or (r.accession and r.accession in accessions))
            return list(dict.fromkeys(keys))

        first = objs[0]
        out.append(
            {
                "study_uid": uid,
                "accession": first.accession,
                "modalities": sorted({o.modality for o in objs if o.modality}),
                "study_date": first.study_date or None,
                "description": first.study_description,
                "series_count": len({o.series_uid for o in objs}),
                "instance_count": len(objs),
                "report_text": "\n\n".join(o.report_text for o in objs if o.report_text),
                "linked_orders": linked(orders),
                "linked_reports": linked(reports),
            }
        )
    return out
