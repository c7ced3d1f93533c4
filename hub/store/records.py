"""The clinical records of one batch of accepted messages, written set-based.

Inside the store's transaction, for one batch:

    load    one query for the patients behind every PID-3 identifier of the batch, and one
            (a UNION ALL over the record tables) for the stored versions and statuses of the
            batch's keys; the store sends both with its own reads (one pipeline on PostgreSQL);
    stage   in arrival order, each message resolves its patient and takes the next version of
            each record key from that state, then updates it: a later message of the same
            batch sees the earlier ones (versions, status transitions, patients) exactly as if
            they had been stored one by one;
    ids     one statement gives the staged patients, messages, lab orders and imaging reports
            their ids (`Driver.new_ids`), so the rows pointing to them need no RETURNING;
    write   one INSERT per table (executemany on the driver's cursor; one pipeline on PostgreSQL).

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

from sqlalchemy import Connection, Table

from hub.store.driver import Driver, Insert, Read, Rows, quote, sqlite_stamp
from hub.store.models import (
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
from mappings import Mapped
from mappings.records import Patient as PatientRecord

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

# Built once (building a statement costs more than running it); run on the driver's cursor.
_PATIENTS_BY_VALUE = (
    'SELECT i."authority", i."value", i."patient_id", p."family", p."given", p."birth_date", p."sex" '
    'FROM "patient_identifiers" i JOIN "patients" p ON p."id" = i."patient_id" WHERE i.'
)


def _versions_sql(name: str, table: Table) -> str:
    status = '"status"' if "status" in table.c else "''"
    return f'SELECT \'{name}\', "key", "version", {status} FROM {quote(name)} WHERE '  # noqa: S608 (model names only)


_VERSIONS = {name: _versions_sql(name, t) for name, t in VERSIONED.items()}
_UPDATE_PATIENT = (
    'UPDATE "patients" SET "family" = {mark}, "given" = {mark}, "birth_date" = {mark}, "sex" = {mark}, '
    '"updated_at" = {mark} WHERE "id" = {mark}'
)
_INSERT_PATIENTS = Insert(patients, with_id=True)
_INSERT_IDENTIFIERS = Insert(identifiers)
_INSERT_MESSAGES = Insert(messages, with_id=True)
_INSERT_LAB_ORDERS = Insert(lab_orders, with_id=True)
_INSERT_OBSERVATIONS = Insert(lab_observations)
_INSERT_MEDICATIONS = Insert(medication_events)
_INSERT_IMAGING_ORDERS = Insert(imaging_orders)
_INSERT_REPORTS = Insert(imaging_reports, with_id=True)
_INSERT_DOCUMENTS = Insert(imaging_documents)

# SQLite's limit on bound parameters is 32,766; stay well below it in one IN list.
_IN_CHUNK = 5000


_FIELDS: dict[type, tuple[str, ...]] = {}


def row(record: object) -> dict[str, Any]:
    """A record's fields as a dict, shallow (dataclasses.asdict deep-copies: 25% of the writer's CPU)."""
    names = _FIELDS.get(type(record))
    if names is None:
        names = _FIELDS[type(record)] = tuple(f.name for f in fields(record))  # type: ignore[arg-type]
    return {n: getattr(record, n) for n in names}


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

    def __init__(self, conn: Connection, now: datetime, driver: Driver | None = None) -> None:
        self.driver = driver or Driver(conn)
        self.now = now
        self._patient_of: dict[tuple[str, str], PatientRef] = {}
        self._demographics: dict[int, dict[str, Any]] = {}  # stored patients, as loaded or last staged
        self._updates: dict[int, dict[str, Any]] = {}
        self._new_patients: list[_NewPatient] = []
        self._new_identifiers: list[tuple[PatientRef, dict[str, Any]]] = []
        self._latest: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in VERSIONED}
        self._staged = _Staged()
        self._ids: dict[str, list[int]] = {}
        self._drawn: dict[str, list[int]] = {}  # ids drawn with the reads (PostgreSQL), at most enough

    # -- load -------------------------------------------------------------------------------

    def load(self, batch: Iterable[Mapped]) -> None:
        """Read what the batch's messages need: their patients and the latest version of their keys."""
        self.driver.read_all(self.reads(batch))

    def reads(self, batch: Iterable[Mapped]) -> list[Read]:
        """The reads `load` makes, for a caller that runs them with others (one round trip)."""
        batch = list(batch)
        reads = self.patient_reads([m.patient for m in batch])
        bounds = {  # every message stored, with all its orders and reports: the most it can need
            "messages": len(batch),
            "lab_orders": sum(len(m.lab_orders) for m in batch),
            "imaging_reports": sum(len(m.imaging_reports) for m in batch),
        }  # patients are drawn after deciding, when there are new ones: most messages have none
        reads += self.driver.id_reads(bounds, self._drawn)
        wanted: dict[str, set[str]] = {name: set() for name in VERSIONED}
        for mapped in batch:
            for name, keys in record_keys(mapped).items():
                wanted[name].update(keys)
        parts = [(name, chunk) for name, keys in wanted.items() for chunk in chunks(sorted(keys))]
        for group in _groups(parts):  # one UNION ALL for every table, while under the parameter cap
            sql, params = [], []
            for name, chunk in group:
                condition, values = self.driver.any_of("key", chunk)
                sql.append(_VERSIONS[name] + condition)
                params.extend(values)
            reads.append((" UNION ALL ".join(sql), params, self._take_versions))
        return reads

    def _take_versions(self, rows: Rows) -> None:
        for name, key, version, status in rows:
            latest = self._latest[name]
            if version > latest.get(key, (0, ""))[0]:
                latest[key] = (version, status)

    def load_patients(self, people: Iterable[PatientRecord]) -> None:
        """The stored patients behind these identifiers, in one query per 5,000 values."""
        self.driver.read_all(self.patient_reads(people))

    def patient_reads(self, people: Iterable[PatientRecord]) -> list[Read]:
        """The reads `load_patients` makes."""
        values = sorted({i.value for p in people for i in p.identifiers})
        reads: list[Read] = []
        for chunk in chunks(values):
            condition, params = self.driver.any_of("value", chunk)
            reads.append((_PATIENTS_BY_VALUE + condition, params, self._take_patients))
        return reads

    def _take_patients(self, rows: Rows) -> None:
        for authority, value, patient_id, family, given, birth_date, sex in rows:
            self._patient_of[(authority, value)] = patient_id
            self._demographics.setdefault(
                patient_id, {"family": family, "given": given, "birth_date": birth_date, "sex": sex}
            )

    # -- stage ------------------------------------------------------------------------------

    def latest_status(self, table: str, key: str) -> str:
        """The latest status stored or staged for a record key of `table`, "" when there is none."""
        return self._latest[table].get(key, (0, ""))[1]

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
                notes=_json_list(order.notes),
                version=self._next("lab_orders", order.key, order.status),
            )
            order_index = len(staged.lab_orders)
            staged.lab_orders.append((index, values))
            for obs in order.observations:
                obs_row = row(obs)
                obs_row.update(
                    observed_at=obs.observed_at or "",
                    notes=_json_list(obs.notes),
                    version=self._next("lab_observations", obs.key, obs.status),
                )
                staged.observations.append((index, order_index, obs_row))
        for event in mapped.medications:
            values = row(event)
            values.pop("section")
            values.update(
                occurred_at=event.occurred_at or "",
                notes=_json_list(event.notes),
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

    def assign_ids(self) -> list[int]:
        """Give every staged row that others point to its id; the message ids in order.

        Ids drawn with the batch's reads (`reads`, PostgreSQL) are used first; what they do not
        cover (new patients, always on SQLite) is drawn in one statement.
        """
        staged = self._staged
        needed = {
            "patients": len(self._new_patients),
            "messages": len(staged.messages),
            "lab_orders": len(staged.lab_orders),
            "imaging_reports": len(staged.reports),
        }
        drawn = self._drawn
        short = {t: n for t, n in needed.items() if len(drawn.get(t, ())) < n}
        more = self.driver.new_ids(short) if short else {}
        ids = {t: (more[t] if t in more else drawn.get(t, []))[:n] for t, n in needed.items()}
        for new, patient_id in zip(self._new_patients, ids["patients"], strict=True):
            new.id = patient_id
        self._ids = ids
        return ids["messages"]

    def write(self) -> None:
        """Write everything staged, one statement per table (inside the caller's pipeline)."""
        drv, staged, ids = self.driver, self._staged, self._ids
        drv.insert(_INSERT_PATIENTS, [{**p.values, "id": p.id} for p in self._new_patients])
        if self._updates:
            update = [
                (v["family"], v["given"], v["birth_date"], v["sex"], v["updated_at"]) for v in self._updates.values()
            ]
            if drv.sqlite:
                update = [(*u[:4], sqlite_stamp(u[4])) for u in update]
            drv.execute_many(_UPDATE_PATIENT, [(*u, pid) for u, pid in zip(update, self._updates, strict=True)])
        drv.insert(_INSERT_IDENTIFIERS, [{**r, "patient_id": _id(ref)} for ref, r in self._new_identifiers])
        patient_ids = [_id(ref) for _m, ref in staged.messages]
        message_ids = ids["messages"]
        drv.insert(
            _INSERT_MESSAGES,
            [
                {**m, "id": mid, "patient_id": pid}
                for (m, _r), mid, pid in zip(staged.messages, message_ids, patient_ids, strict=True)
            ],
        )

        def owner(index: int) -> dict[str, int]:
            return {"message_id": message_ids[index], "patient_id": patient_ids[index]}

        order_ids, report_ids = ids["lab_orders"], ids["imaging_reports"]
        drv.insert(
            _INSERT_LAB_ORDERS,
            [{**r, **owner(i), "id": oid} for (i, r), oid in zip(staged.lab_orders, order_ids, strict=True)],
        )
        observations = [{**r, **owner(i), "order_id": order_ids[o]} for i, o, r in staged.observations]
        drv.insert(_INSERT_OBSERVATIONS, observations)
        drv.insert(_INSERT_MEDICATIONS, [{**r, **owner(i)} for i, r in staged.medications])
        drv.insert(_INSERT_IMAGING_ORDERS, [{**r, **owner(i)} for i, r in staged.imaging_orders])
        drv.insert(
            _INSERT_REPORTS,
            [{**r, **owner(i), "id": rid} for (i, r), rid in zip(staged.reports, report_ids, strict=True)],
        )
        drv.insert(_INSERT_DOCUMENTS, [{**r, "report_id": report_ids[i]} for i, r in staged.documents])
        self._staged = _Staged()
        self._new_patients, self._new_identifiers, self._updates = [], [], {}

    def flush(self) -> list[int]:
        """Assign ids and write everything staged at once; the message ids in staging order."""
        message_ids = self.assign_ids()
        with self.driver.pipeline():
            self.write()
        return message_ids


def resolve_patient(conn: Connection, person: PatientRecord, now: datetime) -> int:
    """One patient, found or created, outside a message batch (the DICOM import)."""
    batch = RecordBatch(conn, now)
    batch.load_patients([person])
    ref = batch.patient(person)
    batch.flush()
    return _id(ref)


def _json_list(items: Sequence[str]) -> str:
    """A list of notes as JSON text (most records have none)."""
    return json.dumps(list(items), ensure_ascii=False) if items else "[]"


def chunks(values: list[str]) -> Iterable[list[str]]:
    """`values` in slices under the bound-parameter cap."""
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _groups(parts: list[tuple[str, list[str]]]) -> Iterable[list[tuple[str, list[str]]]]:
    """Consecutive parts whose values stay within one statement's parameter cap."""
    group: list[tuple[str, list[str]]] = []
    size = 0
    for part in parts:
        if group and size + len(part[1]) > _IN_CHUNK:
            yield group
            group, size = [], 0
        group.append(part)
        size += len(part[1])
    if group:
        yield group
