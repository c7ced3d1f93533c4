"""The patient register, operator side: held messages resolved, patients merged and unmerged by hand.

Each change is one transaction holding its rows and a chained journal entry naming the operator
and the reason. Nothing clinical is rewritten: resolving a hold fills in the patient of records
that had none; a merge points the merged patient to the survivor (its records keep their own
patient id, read under the survivor while the merge lasts); an unmerge points it back.

Each transaction takes the journal head's lock before anything else, as intake does before it
updates a patient: on PostgreSQL, a merge that locked a patient's row and then waited for the
head while a batch held the head and waited for that row would deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update

from hub.governance.journal import ChainWriter
from hub.governance.specs import RegistryError
from hub.store.models import DicomInstance as Dicom
from hub.store.models import (
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Patient,
    PatientIdentifier,
    PatientMerge,
    Unresolved,
)

from .changes import journal_change, now

patients = cast(Table, Patient.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
merges = cast(Table, PatientMerge.__table__)
unresolved = cast(Table, Unresolved.__table__)
dicom_instances = cast(Table, Dicom.__table__)
RECORDS = tuple(
    cast(Table, m.__table__) for m in (LabOrder, LabObservation, MedicationEvent, ImagingOrder, ImagingReport)
)


def record_access(engine: Engine, status: str, subject: str, operator: str, patient_ids: tuple[int, ...] = ()) -> None:
    """Journal that `operator` is shown patient data (ids only in the entry), before it is shown.

    One entry per patient named, so that each patient's access list shows it; one in all when
    the data names no patient yet (held messages).
    """
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        for patient_id in patient_ids or (None,):
            journal_change(chain, status, subject, operator, "shown on the command line", patient_id=patient_id)
        chain.close()


def list_unresolved(engine: Engine, operator: str, *, open_only: bool = True) -> list[dict[str, Any]]:
    """The held messages and DICOM objects, oldest first, with what was sent and the candidates.

    What was sent is patient data: the listing is journaled as an access before it is returned.
    """
    query = select(unresolved).order_by(unresolved.c.id)
    if open_only:
        query = query.where(unresolved.c.state == "open")
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if rows:
        subject = f"unresolved {', '.join(str(r.id) for r in rows)}"
        record_access(engine, "access.unresolved", subject, operator, _concerned(rows))
    return [
        {
            "id": r.id,
            "reason": r.reason,
            "state": r.state,
            "message_id": r.message_id,
            "dicom_instance_id": r.dicom_instance_id,
            "detail": json.loads(r.detail or "{}"),
            "created_at": r.created_at.isoformat(),
            "patient_id": r.patient_id,
            "operator": r.operator,
            "resolution": r.resolution,
        }
        for r in rows
    ]


def _concerned(rows: Sequence[Any]) -> tuple[int, ...]:
    """The patients a listing of holds may show data of: candidates, the order's patient, the one resolved to."""
    ids: set[int] = set()
    for r in rows:
        detail = json.loads(r.detail or "{}")
        ids.update(int(c) for c in detail.get("candidates", []))
        if isinstance(detail.get("order_patient"), int):
            ids.add(detail["order_patient"])
        if r.patient_id is not None:
            ids.add(int(r.patient_id))
    return tuple(sorted(ids))


def _patient(conn: Connection, patient_id: int) -> Any:
    row = conn.execute(select(patients.c.id, patients.c.merged_into).where(patients.c.id == patient_id)).first()
    if row is None:
        raise RegistryError(f"no patient {patient_id}")
    return row


def _reason(reason: str) -> str:
    if not reason.strip():
        raise RegistryError("a reason is required")
    return reason.strip()


def resolve(engine: Engine, hold_id: int, patient_id: int, operator: str, reason: str) -> int:
    """File a held message (or DICOM object) under `patient_id`; the number of records it fills in.

    The identifiers it sent that nobody holds yet are added to the patient, so the next message
    carrying them is filed without a hold.
    """
    reason = _reason(reason)
    with engine.begin() as conn:
        chain = ChainWriter(conn)  # the journal head first (module docstring)
        hold = conn.execute(select(unresolved).where(unresolved.c.id == hold_id)).first()
        if hold is None:
            raise RegistryError(f"no unresolved entry {hold_id}")
        if hold.state != "open":
            raise RegistryError(f"unresolved entry {hold_id} is already {hold.state}")
        target = _patient(conn, patient_id)
        if target.merged_into is not None:
            raise RegistryError(f"patient {patient_id} is merged into {target.merged_into}: resolve to that one")
        filled = 0
        if hold.message_id is not None:
            for table in RECORDS:
                done = conn.execute(
                    update(table)
                    .where(table.c.message_id == hold.message_id, table.c.patient_id.is_(None))
                    .values(patient_id=patient_id)
                )
                filled += done.rowcount or 0
            _adopt(conn, json.loads(hold.detail or "{}").get("identifiers", []), patient_id)
        if hold.dicom_instance_id is not None:
            done = conn.execute(
                update(dicom_instances)
                .where(dicom_instances.c.id == hold.dicom_instance_id)
                .values(patient_id=patient_id)
            )
            filled += done.rowcount or 0
        conn.execute(
            update(unresolved)
            .where(unresolved.c.id == hold_id)
            .values(state="resolved", patient_id=patient_id, operator=operator, resolution=reason, resolved_at=now())
        )
        journal_change(chain, "patient.resolve", f"unresolved {hold_id} -> patient {patient_id}", operator, reason)
        chain.close()
    return filled


def _adopt(conn: Connection, sent: list[dict[str, str]], patient_id: int) -> None:
    for ident in sent:
        pair = (ident.get("authority", ""), ident.get("value", ""))
        held = conn.execute(
            select(identifiers.c.id).where(identifiers.c.authority == pair[0], identifiers.c.value == pair[1])
        ).first()
        if held is None and all(pair):
            row = {"patient_id": patient_id, "authority": pair[0], "value": pair[1], "authority_oid": ""}
            nam = pair[0] == "RAMQ"
            conn.execute(insert(identifiers), {**row, "type_code": ident.get("type", ""), "is_nam": nam})


def merge(engine: Engine, survivor_id: int, merged_id: int, operator: str, reason: str) -> None:
    """Merge `merged_id` into `survivor_id` (both current patients, distinct)."""
    reason = _reason(reason)
    with engine.begin() as conn:
        chain = ChainWriter(conn)  # the journal head first (module docstring)
        survivor, merged = _patient(conn, survivor_id), _patient(conn, merged_id)
        if survivor_id == merged_id:
            raise RegistryError("a patient can't be merged into itself")
        for row in (survivor, merged):
            if row.merged_into is not None:
                raise RegistryError(f"patient {row.id} is already merged into {row.merged_into}")
        event = {"action": "merge", "merged_id": merged_id, "survivor_id": survivor_id, "at": now()}
        conn.execute(insert(merges), {**event, "operator": operator, "reason": reason})
        conn.execute(
            update(patients)
            .where((patients.c.id == merged_id) | (patients.c.merged_into == merged_id))
            .values(merged_into=survivor_id)
        )
        journal_change(chain, "patient.merge", f"patient {merged_id} -> {survivor_id}", operator, reason)
        chain.close()


def unmerge(engine: Engine, merged_id: int, operator: str, reason: str) -> int:
    """Undo the merge of `merged_id`; the survivor it is taken from.

    Patients that had been merged into `merged_id` before it was merged go back to it.
    """
    reason = _reason(reason)
    with engine.begin() as conn:
        chain = ChainWriter(conn)  # the journal head first (module docstring)
        merged = _patient(conn, merged_id)
        if merged.merged_into is None:
            raise RegistryError(f"patient {merged_id} is not merged")
        survivor_id = int(merged.merged_into)
        conn.execute(update(patients).where(patients.c.id == merged_id).values(merged_into=None))
        for other in conn.execute(select(patients.c.id).where(patients.c.merged_into == survivor_id)).scalars():
            if _merged_into_last(conn, other) == merged_id:
                conn.execute(update(patients).where(patients.c.id == other).values(merged_into=merged_id))
        event = {"action": "unmerge", "merged_id": merged_id, "survivor_id": survivor_id, "at": now()}
        conn.execute(insert(merges), {**event, "operator": operator, "reason": reason})
        journal_change(chain, "patient.unmerge", f"patient {merged_id} <- {survivor_id}", operator, reason)
        chain.close()
    return survivor_id


def _merged_into_last(conn: Connection, patient_id: int) -> int | None:
    """Whom the patient's own latest merge event merged it into."""
    row = conn.execute(
        select(merges.c.survivor_id)
        .where(merges.c.merged_id == patient_id, merges.c.action == "merge")
        .order_by(merges.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else int(row.survivor_id)
