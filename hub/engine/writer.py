"""Step 6: one transaction holds the raw messages, their ACKs, journal entries and records.

The hot path runs its statements on the driver's cursor (hub/driver.py), inside the
transaction SQLAlchemy opened; the ORM models define the tables. Result rows are appended with
the next version for their key, never updated.

TRANSACTION (one per batch), set-based (hub/records_store.py):
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
                     status going back (final -> preliminary): AE, journaled with the raw bytes
        otherwise -> journal(status) with the raw bytes (capped) and the reasons
    ids:    what the reads did not draw (new patients; everything on SQLite) in one statement
    write:  one INSERT per table for the staged rows, then the journal entries, chained in order
            (one pipeline on PostgreSQL)
    COMMIT; only then are the ACKs released.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from hub.engine.pipeline import Prepared, journal_raw
from hub.governance.directory import PartnerDirectory
from hub.governance.journal import ChainWriter
from hub.hl7 import Code, Issue, Location
from hub.interfaces import Status
from hub.store.db import writer_lock
from hub.store.driver import Driver, Read, Rows
from hub.store.models import Campaign, CampaignMessage, Message
from hub.store.records import RecordBatch, chunks
from mappings import Mapped

messages = cast(Table, Message.__table__)
campaigns = cast(Table, Campaign.__table__)
campaign_messages = cast(Table, CampaignMessage.__table__)

_OPEN_CAMPAIGN = select(campaigns.c.id).where(
    campaigns.c.product == bindparam("product"),
    campaigns.c.version == bindparam("version"),
    campaigns.c.status == "open",
)
_STORED = 'SELECT "id", "sha256", "ack", "sending_application", "sending_facility", "control_id" FROM "messages" WHERE '


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the store decided for one prepared message."""

    status: Status
    stored_ack: bytes | None = None  # the ACK stored earlier, for a duplicate
    message_id: int | None = None
    issues: tuple[Issue, ...] = ()  # rules the store checked against the repository


@dataclass(slots=True)
class _Decision:
    """One message's outcome before the batch is written; the journal entry is written after."""

    prepared: Prepared
    status: Status
    journal: dict[str, Any]  # keyword arguments of `_journal`
    staged: int | None = None  # index in the record batch, for an accepted message
    same_as: _Decision | None = None  # a duplicate of a message accepted earlier in this batch
    stored: _Stored | None = None  # a duplicate of a stored message
    issues: tuple[Issue, ...] = ()


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
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.directory = directory
        self.checks_directory = directory is not None
        self._mark_sql = directory.mark_sql(engine.dialect) if directory is not None else ""
        # The writer keeps one connection: no pool checkout, pre-ping and reset per batch (three
        # round trips to PostgreSQL). It is dropped after any failure and taken afresh (and
        # pinged) from the pool at the next batch, so a restarted database is picked up.
        self._conn: Connection | None = None
        self._integrity: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self._lock = writer_lock(engine)

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a dead connection may fail to close: the pool discards it
                conn.invalidate()

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Store a batch in one transaction; raises if the transaction fails (nothing kept).

        Decide each message in arrival order against what is stored and what this batch staged
        before it, write the staged records set-based, then chain the journal entries in order.
        """
        conn = self._connection()
        try:
            with self._lock(), conn.begin():
                return self._write(conn, batch)
        except IntegrityError:  # another writer stored one of these keys: the connection is sound
            raise
        except self._integrity as exc:  # the same, raised by the driver's own cursor
            raise IntegrityError(None, None, exc) from exc
        except Exception:
            self._drop_connection()
            raise

    def _write(self, conn: Connection, batch: Sequence[Prepared]) -> list[Verdict]:
        driver = Driver(conn)
        chain = ChainWriter(conn, driver, read_head=False)
        clinical = [p for p in batch if p.status is Status.ACCEPTED and p.campaign_product is None]
        known: dict[tuple[str, str, str], _Stored | _Decision] = {}
        records = RecordBatch(conn, self.clock(), driver)
        # Every read of the batch at once (one round trip on PostgreSQL): the journal head (locked),
        # the stored messages among the batch's keys, its patients and its records' latest versions.
        marks: list[tuple[Any, ...]] = []
        mark_read: list[Read] = [(self._mark_sql, (), marks.extend)] if self.directory else []
        driver.read_all(
            [
                chain.head_read(),
                *mark_read,
                *_stored_reads(driver, [p.key for p in clinical], known),
                *records.reads(p.mapped for p in clinical if p.mapped is not None),
            ]
        )
        if self.directory is not None and not self.directory.is_current(tuple(marks[0])):
            raise StaleDirectory
        decisions = [self._decide(conn, records, p, known) for p in batch]
        message_ids = records.assign_ids()
        verdicts = [self._settle(chain, d, message_ids) for d in decisions]
        with driver.pipeline():  # PostgreSQL: every write of the batch in one round trip
            records.write()
            chain.close()
        return verdicts

    def _decide(
        self,
        conn: Connection,
        records: RecordBatch,
        p: Prepared,
        known: dict[tuple[str, str, str], _Stored | _Decision],
    ) -> _Decision:
        if p.campaign_product is not None and p.status in (Status.ACCEPTED, Status.ERROR):
            return self._campaign(conn, p)
        if p.status is Status.FILTERED:  # not communicated: only the attempt and its rule are kept
            return _Decision(p, p.status, {})
        if p.status is not Status.ACCEPTED:
            return _Decision(p, p.status, {"raw": journal_raw(p)})
        earlier = known.get(p.key)
        if earlier is not None:
            sha256 = earlier.prepared.sha256 if isinstance(earlier, _Decision) else earlier.sha256
            if sha256 == p.sha256:
                if isinstance(earlier, _Decision):
                    return _Decision(p, Status.DUPLICATE, {}, same_as=earlier)
                return _Decision(p, Status.DUPLICATE, {"message_id": earlier.id}, stored=earlier)
            return _Decision(p, Status.CONFLICT, {"raw": journal_raw(p), "codes": "205", "ack_code": "AE"})
        if p.check_transitions and p.mapped is not None:
            issues = records.transition_issues(p.mapped)
            if issues:
                refused = replace(p, issues=issues)
                return _Decision(refused, Status.ERROR, {"raw": journal_raw(p), "ack_code": "AE"}, issues=issues)
        decision = _Decision(p, Status.ACCEPTED, {}, staged=records.stage(self._message_row(p), _mapped(p)))
        known[p.key] = decision
        return decision

    def _settle(self, chain: ChainWriter, d: _Decision, message_ids: list[int]) -> Verdict:
        """Journal one decision, now that the batch's message ids are known; its verdict."""
        if d.staged is not None:
            message_id = message_ids[d.staged]
            self._journal(chain, d.prepared, d.status, message_id=message_id)
            return Verdict(d.status, message_id=message_id)
        if d.same_as is not None:  # the same message twice in one batch: the first one's ACK
            assert d.same_as.staged is not None and d.same_as.prepared.ack is not None
            message_id = message_ids[d.same_as.staged]
            self._journal(chain, d.prepared, d.status, message_id=message_id)
            return Verdict(d.status, stored_ack=d.same_as.prepared.ack, message_id=message_id)
        self._journal(chain, d.prepared, d.status, **d.journal)
        if d.stored is not None:
            return Verdict(d.status, stored_ack=d.stored.ack, message_id=d.stored.id)
        return Verdict(d.status, issues=d.issues)

    def _campaign(self, conn: Connection, p: Prepared) -> _Decision:
        """Certification traffic: into the open campaign for the partner's product, never clinical."""
        product, version = p.campaign_product or ("", "")
        campaign_id = conn.execute(_OPEN_CAMPAIGN, {"product": product, "version": version}).scalar()
        if campaign_id is None:
            issue = Issue(
                Code.INTERNAL_ERROR,
                Location("MSH", 1),
                "aucune campagne ouverte pour ce produit",
                "no open campaign for this product version",
            )
            refused = replace(p, issues=(issue,))
            return _Decision(refused, Status.REJECTED, {"raw": journal_raw(p), "ack_code": "AR"}, issues=(issue,))
        answer = "AA" if p.status is Status.ACCEPTED else "AE"
        keys = [getattr(r, "key", "") for r in p.mapped.records()] if p.mapped else []
        conn.execute(
            insert(campaign_messages),
            {
                "campaign_id": campaign_id,
                "received_at": p.inbound.received_at,
                "control_id": p.header.control_id if p.header else "",
                "raw": p.inbound.raw,
                "answer": answer,
                "issues": json.dumps([issue_to_json(i) for i in p.issues], ensure_ascii=False),
                "order_keys": json.dumps(keys, ensure_ascii=False),
            },
        )
        return _Decision(p, Status.CERTIFICATION, {"raw": journal_raw(p), "ack_code": answer})

    def _message_row(self, p: Prepared) -> dict[str, Any]:
        """The `messages` row of an accepted message (its patient is set when the batch is written)."""
        h = p.header
        assert h is not None and p.ack is not None
        warnings = [
            {"location": str(i.location), "code": i.code.value, "text": i.text_en}
            for i in p.issues
            if i.severity != "E"
        ]
        return {
            "channel": p.inbound.channel,
            "peer": p.inbound.peer,
            "sending_application": h.sending_application,
            "sending_facility": h.sending_facility,
            "control_id": h.control_id,
            "message_type": h.message_type,
            "version": h.version,
            "charset": p.codec,
            "sha256": p.sha256,
            "raw": p.inbound.raw,
            "ack": p.ack,
            "ack_code": _ack_code(p.ack),
            "warnings": json.dumps(warnings) if warnings else "[]",
            "received_at": p.inbound.received_at,
            "stored_at": self.clock(),
        }

    def _journal(
        self,
        chain: ChainWriter,
        p: Prepared,
        status: Status,
        *,
        raw: bytes | None = None,
        message_id: int | None = None,
        codes: str | None = None,
        ack_code: str | None = None,
    ) -> None:
        h = p.header
        errors = [i for i in p.issues if i.severity == "E"]
        chain.append(
            {
                "at": self.clock(),
                "status": status.value,
                "channel": p.inbound.channel,
                "peer": p.inbound.peer,
                "sha256": p.sha256,
                "size": p.inbound.size if p.inbound.size >= 0 else len(p.inbound.raw),
                "raw": raw,
                "sending_application": h.sending_application if h else "",
                "sending_facility": h.sending_facility if h else "",
                "control_id": h.control_id if h else "",
                "message_type": h.message_type if h else "",
                "ack_code": ack_code if ack_code is not None else _ack_code(p.ack),
                "codes": codes if codes is not None else ",".join(str(i.code.value) for i in errors),
                "reason": reasons(p) if status is not Status.CONFLICT else "MSH^1^10 205 duplicate key",
                "message_id": message_id,
                "partner_id": p.partner_id,
                "decision": p.decision,
            },
        )


@dataclass(frozen=True, slots=True)
class _Stored:
    """What dedupe needs of a stored message."""

    id: int
    sha256: str
    ack: bytes


def _stored_reads(driver: Driver, keys: list[tuple[str, str, str]], out: dict[Any, Any]) -> list[Read]:
    """Reads that put the stored messages among `keys` (MSH-3, MSH-4, MSH-10) into `out`."""
    wanted = set(keys)

    def take(rows: Rows) -> None:
        for message_id, sha256, ack, application, facility, control_id in rows:
            key = (application, facility, control_id)
            if key in wanted:
                out[key] = _Stored(message_id, sha256, bytes(ack))

    reads: list[Read] = []
    for chunk in chunks(sorted({cid for _app, _fac, cid in wanted})):
        condition, params = driver.any_of("control_id", chunk)
        reads.append((_STORED + condition, params, take))
    return reads


def issue_to_json(issue: Issue) -> dict[str, Any]:
    """An issue as stored with certification traffic."""
    return {
        "code": issue.code.value,
        "location": issue.location.parts(),
        "severity": issue.severity,
        "fr": issue.text_fr,
        "en": issue.text_en,
        "rule": issue.rule,
    }


def issue_from_json(data: dict[str, Any]) -> Issue:
    """The inverse of `issue_to_json`."""
    seg, *nums = data["location"]
    loc = Location(seg, *(int(n) if n else None for n in nums))
    return Issue(Code(data["code"]), loc, data["fr"], data["en"], data["severity"], data["rule"])


def reasons(p: Prepared) -> str:
    """The PHI-free reason text of a journal entry.

    Location, code and English text per issue, then the exclusion rules that filtered records out.
    """
    parts = [f"{i.location} {i.code.value} {i.severity} {i.text_en}" for i in p.issues]
    if p.mapped is not None and p.mapped.filtered_by:
        parts.append("filtered by exclusion " + ", ".join(p.mapped.filtered_by))
    return "; ".join(parts)


def _ack_code(ack: bytes | None) -> str:
    if not ack:
        return ""
    pos = ack.find(b"MSA")
    return ack[pos + 4 : pos + 6].decode("ascii", "replace") if pos != -1 else ""


def _mapped(p: Prepared) -> Mapped:
    assert p.mapped is not None
    return p.mapped
