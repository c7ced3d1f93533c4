"""The read side: message listings and everything held for one patient (ORM reads)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .models import JournalEntry, LabObservation, LabOrder, Patient, PatientIdentifier


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
    """Patient ids holding this identifier value (any authority)."""
    with Session(engine) as s:
        ids = s.scalars(select(PatientIdentifier.patient_id).where(PatientIdentifier.value == identifier))
        return sorted(set(ids))


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
    """Everything the repository holds for a patient (the shape is documented in the README)."""
    with Session(engine) as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError(patient_id)
        idents = s.scalars(select(PatientIdentifier).where(PatientIdentifier.patient_id == patient_id)).all()
        orders = s.scalars(
            select(LabOrder).where(LabOrder.patient_id == patient_id).order_by(LabOrder.key, LabOrder.version)
        ).all()
        observations = s.scalars(
            select(LabObservation)
            .where(LabObservation.patient_id == patient_id)
            .order_by(LabObservation.key, LabObservation.version)
        ).all()
        return {
            "patient": {
                "id": patient.id,
                "identifiers": [
                    {"value": i.value, "type": i.type_code, "authority": i.authority, "is_nam": i.is_nam}
                    for i in idents
                ],
                "family": patient.family,
                "given": patient.given,
                "birth_date": patient.birth_date or None,
                "sex": patient.sex,
            },
            "lab": {"orders": _orders(orders, observations)},
        }


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
