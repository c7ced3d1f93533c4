"""The clinical records of one batch of accepted messages, written set-based.

Inside the store's transaction, for one batch:

    load    one query for the patients behind every PID-3 identifier of the batch, and one
            per record table for the stored versions and statuses of the batch's keys;
    stage   in arrival order, each message resolves its patient and takes the next version of
            each record key from that state, then updates it: a later message of the same
            batch sees the earlier ones (versions, status transitions, patients) exactly as if
            they had been stored one by one;
    flush   one INSERT per table, multi-row, with RETURNING (in parameter order) where a later
            table needs the ids: patients, messages, lab orders, imaging reports.

So a batch costs about a dozen statements whatever its size, instead of about ten per message.

Patients: any (authority, value) identifier finds the patient, the lowest id when two match;
otherwise a new patient. Identifiers not known yet are added to it. Demographics are the latest
sent; the row is updated only when they change.

Versions: every record is version N+1 of its key, never updated in place; a key repeated within
one message takes consecutive versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, literal_column, select, update

from certification.rules import illegal_transition
from hub.hl7 import Code, Issue, Location
from mappings import Mapped
from mappings.records import Patient as PatientRecord

from .models import (
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Message,
    Patient,
    PatientIdentifier,
)

messages = cast(Table, Message.__table__)
patients = cast(Table, Patient.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
lab_orders = cast(Table, LabOrder.__table__)
lab_observations = cast(Table, LabObservation.__table__)
medication_events = cast(Table, MedicationEvent.__table__)
imaging_orders = cast(Table, ImagingOrder.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)
imaging_documents = cast(Table, ImagingDocument.__table__)

VERSIONED: dict[str, Table] = {
    t.name: t for t in (lab_orders, lab_observations, medication_events, imaging_orders, imaging_reports)
}

# Built once: building a statement costs more than running it (SQLAlchemy caches the compiled
# form under the statement's cache key, which it still has to compute for a fresh statement).
_PATIENTS_BY_VALUE = (
    select(
        identifiers.c.authority,
        identifiers.c.value,
        identifiers.c.patient_id,
        patients.c.family,
        patients.c.given,
        patients.c.birth_date,
        patients.c.sex,
    )
    .join(patients, patients.c.id == identifiers.c.patient_id)
    .where(identifiers.c.value.in_(bindparam("values", expanding=True)))
)
_VERSIONS = {
    name: select(t.c.key, t.c.version, t.c.status if "status" in t.c else literal_column("''").label("status")).where(
        t.c.key.in_(bindparam("keys", expanding=True))
    )
    for name, t in VERSIONED.items()
}
_INSERT_PATIENTS = insert(patients).returning(patients.c.id, sort_by_parameter_order=True)
_UPDATE_PATIENT = update(patients).where(patients.c.id == bindparam("patient"))
_INSERT_IDENTIFIERS = insert(identifiers)
_INSERT_MESSAGES = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
_INSERT_LAB_ORDERS = insert(lab_orders).returning(lab_orders.c.id, sort_by_parameter_order=True)
_INSERT_OBSERVATIONS = insert(lab_observations)
_INSERT_MEDICATIONS = insert(medication_events)
_INSERT_IMAGING_ORDERS = insert(imaging_orders)
_INSERT_REPORTS = insert(imaging_reports).returning(imaging_reports.c.id, sort_by_parameter_order=True)
_INSERT_DOCUMENTS = insert(imaging_documents)

# SQLite's limit on bound parameters is 32,766; stay well below it in one IN list.
_IN_CHUNK = 5000


def row(record: object) -> dict[str, Any]:
    """A record's fields as a dict, shallow (dataclasses.asdict deep-copies: 25% of the writer's CPU)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


class _NewPatient:
    """A patient this batch creates; `id` is set when the INSERT returns it."""

    __slots__ = ("id", "order", "values")

    def __init__(self, values: dict[str, Any], order: int) -> None:
        self.values = values
        self.order = order  # creation order within the batch: the INSERT gives ids in this order
        self.id = 0


PatientRef = int | _NewPatient


def _id(ref: PatientRef) -> int:
    return ref if isinstance(ref, int) else ref.id


def _order(ref: PatientRef) -> tuple[int, int]:
    """Stored patients before new ones (a new id is higher than any stored one), then by id."""
    return (0, ref) if isinstance(ref, int) else (1, ref.order)


@dataclass
class _Staged:
    """Rows waiting for the ids they point to: (index of what they hang on, row)."""

    messages: list[tuple[dict[str, Any], PatientRef]] = field(default_factory=list)
    lab_orders: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # message index
    observations: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # message, order index
    medications: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    imaging_orders: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    reports: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    documents: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # report index


def record_keys(mapped: Mapped) -> dict[str, list[str]]:
    """The record keys of one message, per versioned table."""
    return {
        "lab_orders": [o.key for o in mapped.lab_orders],
        "lab_observations": [x.key for o in mapped.lab_orders for x in o.observations],
        "medication_events": [e.key for e in mapped.medications],
        "imaging_orders": [o.key for o in mapped.imaging_orders],
        "imaging_reports": [r.key for r in mapped.imaging_reports],
    }


class RecordBatch:
    """The records of one batch: `load` once, `stage` each message in order, `flush` once."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self._patient_of: dict[tuple[str, str], PatientRef] = {}
        self._demographics: dict[int, dict[str, Any]] = {}  # stored patients, as loaded or last staged
        self._updates: dict[int, dict[str, Any]] = {}
        self._new_patients: list[_NewPatient] = []
        self._new_identifiers: list[tuple[PatientRef, dict[str, Any]]] = []
        self._latest: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in VERSIONED}
        self._staged = _Staged()

    # -- load -------------------------------------------------------------------------------

    def load(self, batch: Iterable[Mapped]) -> None:
        """Read what the batch's messages need: their patients and the latest version of their keys."""
        batch = list(batch)
        self.load_patients([m.patient for m in batch])
        wanted: dict[str, set[str]] = {name: set() for name in VERSIONED}
        for mapped in batch:
            for name, keys in record_keys(mapped).items():
                wanted[name].update(keys)
        for name, wanted_keys in wanted.items():
            latest = self._latest[name]
            for chunk in _chunks(sorted(wanted_keys)):
                for key, version, status in self.conn.execute(_VERSIONS[name], {"keys": chunk}):
                    if version > latest.get(key, (0, ""))[0]:
                        latest[key] = (version, status)

    def load_patients(self, people: Iterable[PatientRecord]) -> None:
        """The stored patients behind these identifiers, in one query per 5,000 values."""
        values = sorted({i.value for p in people for i in p.identifiers})
        for chunk in _chunks(values):
            for r in self.conn.execute(_PATIENTS_BY_VALUE, {"values": chunk}):
                self._patient_of[(r.authority, r.value)] = r.patient_id
                self._demographics.setdefault(
                    r.patient_id, {"family": r.family, "given": r.given, "birth_date": r.birth_date, "sex": r.sex}
                )

    # -- stage ------------------------------------------------------------------------------

    def transition_issues(self, mapped: Mapped) -> tuple[Issue, ...]:
        """lab.status-transition and imaging.status-transition against what is stored or staged."""
        orders, observations = self._latest["lab_orders"], self._latest["lab_observations"]
        issues = []
        obx_seq = 0  # ERR-2 counts OBX segments across the message; set IDs restart under each OBR
        for n, order in enumerate(mapped.lab_orders, start=1):
            before = orders.get(order.key, (0, ""))[1]
            if illegal_transition(before, order.status):
                issues.append(_transition(Location("OBR", n, 25), before, order.status))
            for obs in order.observations:
                obx_seq += 1
                before = observations.get(obs.key, (0, ""))[1]
                if illegal_transition(before, obs.status):
                    issues.append(_transition(Location("OBX", obx_seq, 11), before, obs.status))
        reports = self._latest["imaging_reports"]
        for n, report in enumerate(mapped.imaging_reports, start=1):
            before = reports.get(report.key, (0, ""))[1]
            if illegal_transition(before, report.status):
                issues.append(_transition(Location("OBR", n, 25), before, report.status, "imaging.status-transition"))
        return tuple(issues)

    def patient(self, person: PatientRecord) -> PatientRef:
        """Resolve (or create) the patient; its demographics become the ones sent."""
        pairs = list(dict.fromkeys((i.authority, i.value) for i in person.identifiers))
        matches = [self._patient_of[p] for p in pairs if p in self._patient_of]
        demographics = {
            "family": person.family,
            "given": person.given,
            "birth_date": person.birth_date or "",
            "sex": person.sex,
        }
        ref: PatientRef
        if matches:
            ref = min(matches, key=_order)
            if isinstance(ref, int):
                if self._demographics.get(ref) != demographics:
                    self._demographics[ref] = demographics
                    self._updates[ref] = {**demographics, "updated_at": self.now}
            else:
                ref.values.update(demographics, updated_at=self.now)
        else:
            ref = _NewPatient({**demographics, "created_at": self.now, "updated_at": self.now}, len(self._new_patients))
            self._new_patients.append(ref)
        by_pair = {(i.authority, i.value): i for i in person.identifiers}
        for pair in pairs:
            if pair not in self._patient_of:
                self._patient_of[pair] = ref
                self._new_identifiers.append((ref, row(by_pair[pair])))
        return ref

    def stage(self, message: dict[str, Any], mapped: Mapped) -> int:
        """Stage one accepted message and its records; the index `flush`'s ids are listed by."""
        staged = self._staged
        index = len(staged.messages)
        staged.messages.append((message, self.patient(mapped.patient)))
        for order in mapped.lab_orders:
            values = row(order)
            values.pop("observations")
            values.update(
                observed_at=order.observed_at or "",
                reported_at=order.reported_at or "",
                notes=json.dumps(list(order.notes), ensure_ascii=False),
                version=self._next("lab_orders", order.key, order.status),
            )
            order_index = len(staged.lab_orders)
            staged.lab_orders.append((index, values))
            for obs in order.observations:
                obs_row = row(obs)
                obs_row.update(
                    observed_at=obs.observed_at or "",
                    notes=json.dumps(list(obs.notes), ensure_ascii=False),
                    version=self._next("lab_observations", obs.key, obs.status),
                )
                staged.observations.append((index, order_index, obs_row))
        for event in mapped.medications:
            values = row(event)
            values.pop("section")
            values.update(
                occurred_at=event.occurred_at or "",
                notes=json.dumps(list(event.notes), ensure_ascii=False),
                version=self._next("medication_events", event.key, event.status),
            )
            staged.medications.append((index, values))
        for imaging_order in mapped.imaging_orders:
            values = row(imaging_order)
            values.update(
                ordered_at=imaging_order.ordered_at or "",
                version=self._next("imaging_orders", imaging_order.key, ""),
            )
            staged.imaging_orders.append((index, values))
        for report in mapped.imaging_reports:
            values = row(report)
            documents = values.pop("documents")
            values.update(
                observed_at=report.observed_at or "",
                reported_at=report.reported_at or "",
                findings=json.dumps([list(f) for f in report.findings], ensure_ascii=False),
                version=self._next("imaging_reports", report.key, report.status),
            )
            report_index = len(staged.reports)
            staged.reports.append((index, values))
            for d in documents:
                document = {"media_type": d.media_type, "encoding": d.encoding, "sha256": d.sha256}
                staged.documents.append((report_index, {**document, "size": d.size, "data": d.data}))
        return index

    def _next(self, table: str, key: str, status: str) -> int:
        """The next version of `key`, which from now on is the latest (with its status)."""
        latest = self._latest[table]
        version = latest.get(key, (0, ""))[0] + 1
        latest[key] = (version, status)
        return version

    # -- flush ------------------------------------------------------------------------------

    def flush(self) -> list[int]:
        """Write everything staged, one statement per table; the message ids in staging order."""
        conn, staged = self.conn, self._staged
        if self._new_patients:
            ids = conn.execute(_INSERT_PATIENTS, [p.values for p in self._new_patients]).scalars().all()
            for new, patient_id in zip(self._new_patients, ids, strict=True):
                new.id = int(patient_id)
        if self._updates:
            conn.execute(_UPDATE_PATIENT, [{"patient": pid, **values} for pid, values in self._updates.items()])
        if self._new_identifiers:
            conn.execute(_INSERT_IDENTIFIERS, [{**r, "patient_id": _id(ref)} for ref, r in self._new_identifiers])
        if not staged.messages:
            return []
        patient_ids = [_id(ref) for _m, ref in staged.messages]
        message_rows = [{**m, "patient_id": pid} for (m, _r), pid in zip(staged.messages, patient_ids, strict=True)]
        message_ids = _returning(conn, _INSERT_MESSAGES, message_rows)

        def owner(index: int) -> dict[str, int]:
            return {"message_id": message_ids[index], "patient_id": patient_ids[index]}

        order_ids = _returning(conn, _INSERT_LAB_ORDERS, [{**r, **owner(i)} for i, r in staged.lab_orders])
        observations = [{**r, **owner(i), "order_id": order_ids[o]} for i, o, r in staged.observations]
        _many(conn, _INSERT_OBSERVATIONS, observations)
        _many(conn, _INSERT_MEDICATIONS, [{**r, **owner(i)} for i, r in staged.medications])
        _many(conn, _INSERT_IMAGING_ORDERS, [{**r, **owner(i)} for i, r in staged.imaging_orders])
        report_ids = _returning(conn, _INSERT_REPORTS, [{**r, **owner(i)} for i, r in staged.reports])
        _many(conn, _INSERT_DOCUMENTS, [{**r, "report_id": report_ids[i]} for i, r in staged.documents])
        self._staged = _Staged()
        return message_ids


def resolve_patient(conn: Connection, person: PatientRecord, now: datetime) -> int:
    """One patient, found or created, outside a message batch (the DICOM import)."""
    batch = RecordBatch(conn, now)
    batch.load_patients([person])
    ref = batch.patient(person)
    batch.flush()
    return _id(ref)


def _returning(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    return [int(i) for i in conn.execute(stmt, list(rows)).scalars().all()]


def _many(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(stmt, list(rows))


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _transition(loc: Location, before: str, after: str, rule: str = "lab.status-transition") -> Issue:
    return Issue(
        Code.TABLE_VALUE_NOT_FOUND,
        loc,
        f"statut {before} puis {after} : retour en arrière interdit",
        f"status {before} then {after}: going back is not allowed",
        "E",
        rule,
    )
