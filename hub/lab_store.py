"""The clinical records of an accepted message: patient resolution and append-only lab versions.

Called inside the store's transaction. Versions: each message adds version N+1 of its order and
observation keys; a key repeated within one message takes consecutive versions.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update

from certification.rules import illegal_transition
from hub.hl7 import Code, Issue, Location
from mappings import LabOrder, Mapped
from mappings.records import Patient as PatientRecord

from .models import ImagingReport, LabObservation, Patient, PatientIdentifier
from .models import LabOrder as LabOrderRow

patients = cast(Table, Patient.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
lab_orders = cast(Table, LabOrderRow.__table__)
lab_observations = cast(Table, LabObservation.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)


def row(record: object) -> dict[str, Any]:
    """A record's fields as a dict, shallow (dataclasses.asdict deep-copies: 25% of the writer's CPU)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


def resolve_patient(conn: Connection, patient: PatientRecord, now: datetime) -> int:
    """Find the patient by any (authority, value) identifier, else create; add new identifiers."""
    pairs = [(i.authority, i.value) for i in patient.identifiers]
    found = conn.execute(
        select(identifiers.c.authority, identifiers.c.value, identifiers.c.patient_id).where(
            identifiers.c.value.in_([v for _a, v in pairs])
        )
    ).all()
    known = {(r.authority, r.value): r.patient_id for r in found}
    matches = [known[pair] for pair in pairs if pair in known]
    demographics = {
        "family": patient.family,
        "given": patient.given,
        "birth_date": patient.birth_date or "",
        "sex": patient.sex,
        "updated_at": now,
    }
    if matches:
        patient_id = min(matches)
        conn.execute(update(patients).where(patients.c.id == patient_id).values(**demographics))
    else:
        patient_id = int(
            conn.execute(insert(patients).returning(patients.c.id), {**demographics, "created_at": now}).scalar_one()
        )
    fresh = [i for i in patient.identifiers if (i.authority, i.value) not in known]
    seen: set[tuple[str, str]] = set()
    rows = []
    for ident in fresh:
        if (ident.authority, ident.value) in seen:
            continue
        seen.add((ident.authority, ident.value))
        rows.append({**row(ident), "patient_id": patient_id})
    if rows:
        conn.execute(insert(identifiers), rows)
    return int(patient_id)


def next_versions(conn: Connection, table: Any, keys: list[str]) -> dict[str, int]:
    """The version each key's next row takes: one past the highest stored, else 1."""
    if not keys:
        return {}
    rows = conn.execute(
        select(table.c.key, func.max(table.c.version)).where(table.c.key.in_(keys)).group_by(table.c.key)
    ).all()
    current: dict[str, int] = {k: v for k, v in rows}  # noqa: C416 - typed
    return {k: current.get(k, 0) + 1 for k in keys}


def _latest_status(conn: Connection, table: Any, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    newest = (
        select(table.c.key, func.max(table.c.version).label("v")).where(table.c.key.in_(keys)).group_by(table.c.key)
    )
    sub = newest.subquery()
    rows = conn.execute(
        select(table.c.key, table.c.status).join(sub, (table.c.key == sub.c.key) & (table.c.version == sub.c.v))
    ).all()
    return {r.key: r.status for r in rows}


def transition_issues(conn: Connection, mapped: Mapped) -> tuple[Issue, ...]:
    """lab.status-transition: final or corrected results never go back to preliminary."""
    orders = _latest_status(conn, lab_orders, [o.key for o in mapped.lab_orders])
    observations = _latest_status(conn, lab_observations, [x.key for o in mapped.lab_orders for x in o.observations])
    issues = []
    obx_seq = 0  # ERR-2 counts OBX segments across the message; set IDs restart under each OBR
    for n, order in enumerate(mapped.lab_orders, start=1):
        if illegal_transition(orders.get(order.key, ""), order.status):
            issues.append(_transition(Location("OBR", n, 25), orders[order.key], order.status))
        for obs in order.observations:
            obx_seq += 1
            if illegal_transition(observations.get(obs.key, ""), obs.status):
                issues.append(_transition(Location("OBX", obx_seq, 11), observations[obs.key], obs.status))
    if mapped.imaging_reports:  # imaging.status-transition: reports follow the same lifecycle
        reports = _latest_status(conn, imaging_reports, [r.key for r in mapped.imaging_reports])
        for n, report in enumerate(mapped.imaging_reports, start=1):
            if illegal_transition(reports.get(report.key, ""), report.status):
                issues.append(
                    _transition(Location("OBR", n, 25), reports[report.key], report.status, "imaging.status-transition")
                )
    return tuple(issues)


def _transition(loc: Location, before: str, after: str, rule: str = "lab.status-transition") -> Issue:
    return Issue(
        Code.TABLE_VALUE_NOT_FOUND,
        loc,
        f"statut {before} puis {after} : retour en arrière interdit",
        f"status {before} then {after}: going back is not allowed",
        "E",
        rule,
    )


def take_version(versions: dict[str, int], key: str) -> int:
    """The next version for `key`, counting repeats of the key within one message."""
    version = versions[key]
    versions[key] = version + 1
    return version


def insert_lab(conn: Connection, mapped: Mapped, message_id: int, patient_id: int) -> None:
    """Append the message's orders and observations, each at the next version of its key."""
    orders: tuple[LabOrder, ...] = mapped.lab_orders
    order_versions = next_versions(conn, lab_orders, [o.key for o in orders])
    obs_versions = next_versions(conn, lab_observations, [x.key for o in orders for x in o.observations])
    for order in orders:
        values = row(order)
        values.pop("observations")
        order_id = conn.execute(
            insert(lab_orders).returning(lab_orders.c.id),
            {
                **values,
                "observed_at": order.observed_at or "",
                "reported_at": order.reported_at or "",
                "notes": json.dumps(list(order.notes), ensure_ascii=False),
                "version": take_version(order_versions, order.key),
                "message_id": message_id,
                "patient_id": patient_id,
            },
        ).scalar_one()
        rows = []
        for obs in order.observations:
            obs_row = row(obs)
            obs_row.update(
                observed_at=obs.observed_at or "",
                notes=json.dumps(list(obs.notes), ensure_ascii=False),
                version=take_version(obs_versions, obs.key),
                order_id=order_id,
                message_id=message_id,
                patient_id=patient_id,
            )
            rows.append(obs_row)
        if rows:
            conn.execute(insert(lab_observations), rows)
