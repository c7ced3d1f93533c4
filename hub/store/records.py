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

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from hub.store.driver import Driver, Read, Rows, quote
from hub.store.rows import VERSIONED, NewPatient, PatientRef, Staged, patient_id, row
from mappings import Mapped
from mappings.records import Patient as PatientRecord

# Built once (building a statement costs more than running it); run on the driver's cursor.
_PATIENTS_BY_VALUE = (
    'SELECT i."authority", i."value", i."patient_id", p."family", p."given", p."birth_date", p."sex" '
    'FROM "patient_identifiers" i JOIN "patients" p ON p."id" = i."patient_id" WHERE i.'
)


def _versions_sql(name: str, table: Table) -> str:
    status = '"status"' if "status" in table.c else "''"
    return f'SELECT \'{name}\', "key", "version", {status} FROM {quote(name)} WHERE '  # noqa: S608 (model names only)


_VERSIONS = {name: _versions_sql(name, t) for name, t in VERSIONED.items()}
# SQLite's limit on bound parameters is 32,766; stay well below it in one IN list.
_IN_CHUNK = 5000


def _order(ref: PatientRef) -> tuple[int, int]:
    """Stored patients before new ones (a new id is higher than any stored one), then by id."""
    return (0, ref) if isinstance(ref, int) else (1, ref.order)


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
        self._latest: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in VERSIONED}
        self._staged = Staged()
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
        for authority, value, stored_id, family, given, birth_date, sex in rows:
            self._patient_of[(authority, value)] = stored_id
            self._demographics.setdefault(
                stored_id, {"family": family, "given": given, "birth_date": birth_date, "sex": sex}
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
                    self._staged.updates[ref] = {**demographics, "updated_at": self.now}
            else:
                ref.values.update(demographics, updated_at=self.now)
        else:
            new = self._staged.new_patients
            ref = NewPatient({**demographics, "created_at": self.now, "updated_at": self.now}, len(new))
            new.append(ref)
        by_pair = {(i.authority, i.value): i for i in person.identifiers}
        for pair in pairs:
            if pair not in self._patient_of:
                self._patient_of[pair] = ref
                self._staged.new_identifiers.append((ref, row(by_pair[pair])))
        return ref

    def stage(self, message: dict[str, Any], mapped: Mapped) -> int:
        """Stage one accepted message and its records; the index `flush`'s ids are listed by."""
        index = len(self._staged.messages)
        self._staged.messages.append((message, self.patient(mapped.patient)))
        self._staged.records(index, mapped, self._next)
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
            "patients": len(staged.new_patients),
            "messages": len(staged.messages),
            "lab_orders": len(staged.lab_orders),
            "imaging_reports": len(staged.reports),
        }
        drawn = self._drawn
        short = {t: n for t, n in needed.items() if len(drawn.get(t, ())) < n}
        more = self.driver.new_ids(short) if short else {}
        ids = {t: (more[t] if t in more else drawn.get(t, []))[:n] for t, n in needed.items()}
        for new, new_id in zip(staged.new_patients, ids["patients"], strict=True):
            new.id = new_id
        self._ids = ids
        return ids["messages"]

    def write(self) -> None:
        """Write everything staged, one statement per table (inside the caller's pipeline)."""
        self._staged.write(self.driver, self._ids)
        self._staged = Staged()

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
    return patient_id(ref)


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
