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

Patients: hub/store/patients.py decides who each message is about (or holds it unresolved).
Providers: each one a message names is linked to the practitioner holding its licence.

Versions: every record is version N+1 of its key, never updated in place; a key repeated within
one message takes consecutive versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Table

from hub.store.driver import Driver, Read, Rows, quote
from hub.store.patients import PatientIndex, Resolution
from hub.store.rows import VERSIONED, PatientRef, Row, Staged
from mappings import Mapped, Provider

# Built once (building a statement costs more than running it); run on the driver's cursor.
_PRACTITIONERS = 'SELECT "licence", "licence_order", "id" FROM "practitioners" WHERE '


def _versions_sql(name: str, table: Table) -> str:
    status = '"status"' if "status" in table.c else "''"
    return f'SELECT \'{name}\', "key", "version", {status} FROM {quote(name)} WHERE '  # noqa: S608 (model names only)


_VERSIONS = {name: _versions_sql(name, t) for name, t in VERSIONED.items()}
# SQLite's limit on bound parameters is 32,766; stay well below it in one IN list.
_IN_CHUNK = 5000


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
        self.patients = PatientIndex(self.driver, now)
        self._licences: dict[str, list[tuple[str, str]]] = {}  # licence -> [(order, practitioner id)]
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
        reads = self.patients.reads([m.patient for m in batch] + [m.merged for m in batch if m.merged])
        licences = sorted({p.licence for m in batch for p in m.providers})
        for chunk in chunks(licences):
            condition, params = self.driver.any_of("licence", chunk)
            reads.append((_PRACTITIONERS + condition, params, self._take_licences))
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

    def _take_licences(self, rows: Rows) -> None:
        for licence, order, practitioner in rows:
            self._licences.setdefault(licence, []).append((order, practitioner))

    # -- stage ------------------------------------------------------------------------------

    def latest_status(self, table: str, key: str) -> str:
        """The latest status stored or staged for a record key of `table`, "" when there is none."""
        return self._latest[table].get(key, (0, ""))[1]

    @property
    def next_index(self) -> int:
        """The index the next staged message will have."""
        return len(self._staged.messages)

    def stage(self, message: Row, mapped: Mapped, resolution: Resolution) -> int:
        """Stage one accepted message, its patient (or its hold) and its records; its index.

        An A40 was merged (`patients.merge`) before: its resolution names the survivor.
        """
        index = len(self._staged.messages)
        ref: PatientRef | None = None
        if resolution.reason:
            self.patients.hold(mapped.patient, resolution, index)
        else:
            ref = self.patients.attach(mapped.patient, resolution, index)
        self._staged.messages.append((message, ref))
        self._staged.records(index, mapped, self._next)
        for provider in mapped.providers:
            self._staged.link(index, provider.field, provider.sent, self._practitioner(provider))
        return index

    def _practitioner(self, provider: Provider) -> str | None:
        """The register's practitioner holding the licence: by order when sent, else the only holder."""
        held = self._licences.get(provider.licence, [])
        if provider.order:
            held = [h for h in held if h[0] == provider.order]
        return held[0][1] if len(held) == 1 else None

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
        new_patients = self.patients.new_patients
        needed = {
            "patients": len(new_patients),
            "messages": len(staged.messages),
            "lab_orders": len(staged.lab_orders),
            "imaging_reports": len(staged.reports),
        }
        drawn = self._drawn
        short = {t: n for t, n in needed.items() if len(drawn.get(t, ())) < n}
        more = self.driver.new_ids(short) if short else {}
        ids = {t: (more[t] if t in more else drawn.get(t, []))[:n] for t, n in needed.items()}
        for new, new_id in zip(new_patients, ids["patients"], strict=True):
            new.id = new_id
        self._ids = ids
        return ids["messages"]

    def write(self) -> None:
        """Write everything staged, one statement per table (inside the caller's pipeline)."""
        self.patients.write_patients(self.driver)
        self._staged.write(self.driver, self._ids)
        self.patients.write_after(self.driver, self._ids["messages"])
        self._staged = Staged()

    def flush(self) -> list[int]:
        """Assign ids and write everything staged at once; the message ids in staging order."""
        message_ids = self.assign_ids()
        with self.driver.pipeline():
            self.write()
        return message_ids


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
