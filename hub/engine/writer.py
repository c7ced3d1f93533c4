"""Step 6: one transaction holds the raw messages, their ACKs, journal entries and records.

The hot path runs its statements on the driver's cursor (hub/store/driver.py), inside the
transaction SQLAlchemy opened; the ORM models define the tables. Result rows are appended with
the next version for their key, never updated.

TRANSACTION (one per batch), set-based (hub/store/records.py):
    read:   the journal head (locked), the partner directory's change mark (an outdated
            snapshot raises StaleDirectory: the batch is prepared again), the stored messages
            among the batch's keys (MSH-3, MSH-4, MSH-10), the batch's patients, the latest
            version of each of its record keys, and on PostgreSQL the ids it can need: one
            pipeline on PostgreSQL
    decide, for each prepared message in arrival order, against what is stored and what this
    batch decided before it:
        accepted  -> key unknown:  stage message (raw + ACK), patient and records
                     same sha256:  duplicate; the stored ACK is sent again
                     other sha256: conflict, the raw bytes kept in the journal (quarantine); AE 205
                     status going back (final -> preliminary): the rule set's severity: AE, or
                     accepted with a W ERR
        otherwise -> journal(status) with the raw bytes (capped) and the reasons
    ids:    what the reads did not draw (new patients; everything on SQLite) in one statement
    write:  one INSERT per table for the staged rows, then the journal entries, chained in order
            (on PostgreSQL one statement, the tables joined as WITH parts: hub/store/driver.py)
    COMMIT; only then are the replies released.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from hub.governance.directory import PartnerDirectory
from hub.governance.journal import ChainWriter
from hub.hl7 import Code, Issue, Location
from hub.store.db import writer_lock
from hub.store.driver import Driver, Read
from hub.store.records import RecordBatch

from .acks import Acknowledger
from .campaigns import record_campaign_message
from .entries import Stored, journal_entry, message_row, stored_reads
from .outcome import Prepared, Status, Verdict
from .pipeline import journal_raw

HELD = Issue(
    Code.UNKNOWN_KEY,
    Location("PID", 1, 3),
    "recherche non concluante de l'usager : message retenu pour résolution",
    "patient not identified with certainty: held for resolution",
    "W",
)
MERGE_REFUSED = {
    "survivor": Issue(
        Code.UNKNOWN_KEY, Location("PID", 1, 3), "patient survivant inconnu", "surviving patient unknown"
    ),
    "merged": Issue(Code.UNKNOWN_KEY, Location("MRG", 1, 1), "patient fusionné inconnu", "merged patient unknown"),
    "same": Issue(Code.DUPLICATE_KEY, Location("MRG", 1, 1), "déjà fusionné", "already merged"),
}


@dataclass(slots=True)
class _Decision:
    """One message's outcome before the batch is written; the journal entry is written after."""

    prepared: Prepared  # as answered
    status: Status
    raw: bytes | None = None  # the bytes the journal keeps (refused attempts)
    staged: int | None = None  # index in the record batch, for an accepted message
    same_as: _Decision | None = None  # a duplicate of a message accepted earlier in this batch
    stored: Stored | None = None  # a duplicate of a stored message


# The writer's connection to PostgreSQL plans each prepared statement once (docs/design.md, "The
# writer's plans on PostgreSQL"). Every statement of the writer is a lookup or a check by key, on
# an index, so its plan does not depend on the values bound:
# - no sequential scans: a generic plan made while the tables were small would scan them whole
#   for as long as it is kept, and with no ANALYZE since (autovacuum off, a fresh schema) the
#   writer's cost would grow with the tables;
# - generic plans only: the reads that take a batch's keys as one array (`= ANY($1)`) were
#   otherwise planned afresh at every execution, PostgreSQL judging a custom plan cheaper.
WRITER_SETTINGS = ("SET enable_seqscan = off", "SET plan_cache_mode = force_generic_plan")


class StaleDirectory(Exception):  # noqa: N818 - a signal to the intake, not an error
    """The partners changed since the batch was authorized: refresh the directory and prepare again."""


class SQLStore:
    """The repository behind the group-commit writer.

    With a `directory`, every transaction reads the partner registry's change mark with its
    other reads (no round trip of its own) and raises `StaleDirectory` when the snapshot the
    batch was authorized with is outdated: a cut or a suspension is in force from the first
    transaction that follows it, and the writer needs no separate check before each batch.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        directory: PartnerDirectory | None = None,
        acks: Acknowledger | None = None,
        lock_timeout_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.directory = directory
        self.acks = acks or Acknowledger()
        self.checks_directory = directory is not None
        self._mark_sql = directory.mark_sql(engine.dialect) if directory is not None else ""
        # The writer keeps one connection: no pool checkout, pre-ping and reset per batch (three
        # round trips to PostgreSQL). It is dropped after any failure and taken afresh (and
        # pinged) from the pool at the next batch, so a restarted database is picked up.
        self._conn: Connection | None = None
        self._integrity: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self._data_error: type[Exception] = engine.dialect.loaded_dbapi.DataError
        self._lock = writer_lock(engine, lock_timeout_s)
        self._sqlite = engine.dialect.name == "sqlite"

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self.engine.connect()
            if not self._sqlite:
                raw: Any = conn.connection.driver_connection
                for setting in WRITER_SETTINGS:
                    raw.execute(setting)
                raw.commit()
                raw.autocommit = True  # the writer begins and commits itself, in the round trips of its statements
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        """Close the writer's connection for good: it goes back to no pool, with its planner settings."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a dead connection may fail to close: it is discarded all the same
                conn.invalidate()
                conn.close()

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Store a batch in one transaction; raises if the transaction fails (nothing kept)."""
        conn = self._connection()
        try:
            with self._lock():
                if any(p.campaign_product is not None for p in batch):  # written through the ORM too
                    return self._orm_transaction(conn, batch)
                return self._driver_transaction(conn, batch)
        except (IntegrityError, DataError):  # a key another writer stored, or a value refused: sound
            raise
        except self._integrity as exc:  # the same, raised by the driver's own cursor
            raise IntegrityError(None, None, exc) from exc
        except self._data_error as exc:  # a value the database refuses, from the driver's cursor
            self._drop_connection()
            raise DataError(None, None, exc) from exc
        except Exception:
            self._drop_connection()
            raise

    def _orm_transaction(self, conn: Connection, batch: Sequence[Prepared]) -> list[Verdict]:
        """A batch with certification traffic, in SQLAlchemy's transaction (the campaign's rows go through the ORM)."""
        raw: Any = conn.connection.driver_connection
        if not self._sqlite:
            raw.autocommit = False  # SQLAlchemy's transaction relies on psycopg's own BEGIN
        try:
            with conn.begin():
                return self._write(conn, batch)
        finally:
            if not self._sqlite and not raw.closed:
                raw.autocommit = True

    def _driver_transaction(self, conn: Connection, batch: Sequence[Prepared]) -> list[Verdict]:
        """The batch's transaction begun and ended on the driver's connection, as its statements run.

        SQLAlchemy's begin and commit (events, transaction objects) cost about a sixth of a
        one-message transaction's Python; nothing in this transaction goes through SQLAlchemy.
        SQLite's connection (hub/store/db.py) and PostgreSQL's (`_connection`) are in autocommit
        mode, so the transaction's bounds are explicit: BEGIN IMMEDIATE on SQLite; on PostgreSQL, BEGIN in the
        round trip of the reads and COMMIT in that of the writes (docs/design.md, "Two round
        trips per transaction on PostgreSQL").
        """
        raw: Any = conn.connection.driver_connection
        if self._sqlite:
            raw.execute("BEGIN IMMEDIATE")
        try:
            verdicts = self._write(conn, batch, own=True)
            raw.commit()  # SQLite's COMMIT; on PostgreSQL the writes' round trip carried it: nothing left to do
        except BaseException:
            with contextlib.suppress(Exception):  # a dead connection fails here too: the first error counts
                raw.rollback()
            raise
        return verdicts

    def _write(self, conn: Connection, batch: Sequence[Prepared], *, own: bool = False) -> list[Verdict]:
        """Read everything at once, decide in arrival order, write set-based, chain the journal.

        With `own` (the driver's own transaction, not SQLAlchemy's), PostgreSQL's BEGIN rides
        with the reads and its COMMIT with the writes.
        """
        own_pg = own and not self._sqlite
        driver = Driver(conn)
        chain = ChainWriter(conn, driver, read_head=False)
        clinical = [p for p in batch if p.status is Status.ACCEPTED and p.campaign_product is None]
        known: dict[tuple[str, str, str], Stored | _Decision] = {}
        records = RecordBatch(conn, self.clock(), driver)
        marks: list[tuple[Any, ...]] = []
        mark_read: list[Read] = [(self._mark_sql, (), marks.extend)] if self.directory else []
        driver.read_all(
            [
                chain.head_read(),
                *mark_read,
                *stored_reads(driver, [p.key for p in clinical], known),
                *records.reads(p.mapped for p in clinical if p.mapped is not None),
            ],
            begin=own_pg,
        )
        if self.directory is not None:
            current = tuple(marks[0])
            # Each message names the registry version its link was decided at: one decided
            # before the latest change (a cut, a rotated certificate) is prepared again.
            if not self.directory.is_current(current) or any(
                p.registry_mark is not None and p.registry_mark != current for p in batch
            ):
                raise StaleDirectory
        decisions = [self._decide(conn, records, p, known) for p in batch]
        message_ids = records.assign_ids()
        verdicts = [self._settle(chain, d, message_ids) for d in decisions]
        with driver.pipeline(commit=own_pg):  # PostgreSQL: the writes (one statement) and COMMIT, one round trip
            records.write()
            chain.close()
        return verdicts

    def _decide(
        self, conn: Connection, records: RecordBatch, p: Prepared, known: dict[tuple[str, str, str], Stored | _Decision]
    ) -> _Decision:
        if p.campaign_product is not None and p.status in (Status.ACCEPTED, Status.ERROR):
            answered, status = record_campaign_message(conn, p, self.acks)
            return _Decision(answered, status, raw=journal_raw(p))
        if p.status is Status.FILTERED:  # not communicated: only the attempt and its rule are kept
            return _Decision(p, p.status)
        if p.status is not Status.ACCEPTED:
            return _Decision(p, p.status, raw=journal_raw(p))
        earlier = known.get(p.key)
        if earlier is not None:
            sha256 = earlier.prepared.sha256 if isinstance(earlier, _Decision) else earlier.sha256
            if sha256 != p.sha256:
                return _Decision(self.acks.conflict(p), Status.CONFLICT, raw=journal_raw(p))
            if isinstance(earlier, _Decision):
                return _Decision(p, Status.DUPLICATE, same_as=earlier)
            return _Decision(p, Status.DUPLICATE, stored=earlier)
        if p.transitions is not None and p.mapped is not None:
            found = p.transitions.check(p.mapped, records.latest_status)
            errors = tuple(i for i in found if i.severity == "E")
            if errors:
                return _Decision(self.acks.refused(p, Status.ERROR, errors), Status.ERROR, raw=journal_raw(p))
            if found:
                p = self.acks.warned(p, found)
        mapped = _mapped(p)
        if mapped.merged:  # ADT^A40: both patients must be known and distinct
            problem = records.patients.merge(mapped.patient, mapped.merged, records.next_index)
            if problem:
                issue = MERGE_REFUSED[problem]
                return _Decision(self.acks.refused(p, Status.ERROR, (issue,)), Status.ERROR, raw=journal_raw(p))
        resolution = records.patients.resolve(mapped.patient)
        if resolution.reason:  # held: stored and acknowledged, linked to no one until resolved
            p = self.acks.warned(p, (HELD,))
        decision = _Decision(p, Status.ACCEPTED)
        decision.staged = records.stage(message_row(p, self.clock()), mapped, resolution)
        known[p.key] = decision
        return decision

    def _settle(self, chain: ChainWriter, d: _Decision, message_ids: list[int]) -> Verdict:
        """Journal one decision, now that the batch's message ids are known; its verdict."""
        p = d.prepared
        if d.staged is not None:
            message_id = message_ids[d.staged]
            chain.append(journal_entry(p, d.status, self.clock, raw=None, message_id=message_id))
            return Verdict(d.status, p, message_id)
        if d.same_as is not None:  # the same message twice in one batch: the first one's ACK
            first = d.same_as.prepared
            assert d.same_as.staged is not None
            message_id = message_ids[d.same_as.staged]
            p = replace(p, ack=first.ack, ack_code=first.ack_code)
            chain.append(journal_entry(p, d.status, self.clock, raw=None, message_id=message_id))
            return Verdict(d.status, p, message_id)
        if d.stored is not None:  # the ACK stored the first time is sent again
            stored = d.stored
            p = replace(p, ack=stored.ack, ack_code=stored.code)
            chain.append(journal_entry(p, d.status, self.clock, raw=None, message_id=stored.id))
            return Verdict(d.status, p, stored.id)
        chain.append(journal_entry(p, d.status, self.clock, raw=d.raw, message_id=None))
        return Verdict(d.status, p)


def _mapped(p: Prepared) -> Any:
    assert p.mapped is not None
    return p.mapped
