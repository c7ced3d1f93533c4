"""The tamper-evident journal: every entry is chained, SHA-256 over the previous hash + entry.

One serialized chain for the whole repository, not one per writer: each transaction that
writes entries first locks the single ``journal_head`` row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite transactions begin IMMEDIATE, which takes the database's write lock), gives
its entries the next sequence numbers, and moves the head in the same transaction. Several
writer processes therefore share one chain, and a deleted tail is caught because the head
still names the last entry. Rewriting the whole chain and the head consistently is possible
for whoever owns the database: anchor the head outside it (`passerelle journal verify` prints
it) to catch that too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring as _quoted  # JSON's own string quoting (C)
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, select

from hub.store.driver import Driver, Insert, Read, Rows
from hub.store.models import AuditOutbox, JournalEntry, JournalHead, Message

from .security import security_kind

journal = cast(Table, JournalEntry.__table__)
head = cast(Table, JournalHead.__table__)
messages = cast(Table, Message.__table__)

# The fields the hash covers, in this order (raw bytes are covered through sha256).
CHAINED = (
    "seq", "at", "status", "channel", "peer", "sha256", "size", "sending_application", "sending_facility",
    "control_id", "message_type", "ack_code", "codes", "reason", "message_id", "partner_id", "decision",
    "operator",
)  # fmt: skip


# Built once, run on the driver's cursor (the writer's hot path: hub/store/driver.py).
_HEAD = 'SELECT "seq", "hash" FROM "journal_head" WHERE "id" = 1'
_HEAD_LOCKED = _HEAD + " FOR UPDATE"
_APPEND = Insert(journal)
_OUTBOX = Insert(cast(Table, AuditOutbox.__table__))
_MOVE_HEAD = 'UPDATE "journal_head" SET "seq" = {mark}, "hash" = {mark} WHERE "id" = 1'

# Chained only when set (migration 0007): entries written before them hash as they always did.
OPTIONAL = ("raw_sha256", "patient_id", "detail")

# What an entry holds for a field it does not set, as the database gives it back.
DEFAULTS: dict[str, Any] = dict.fromkeys(CHAINED, "") | {
    "size": 0, "message_id": None, "raw": None, "raw_sha256": "", "patient_id": None, "detail": "",
}  # fmt: skip


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the chained fields.

    `raw_sha256` (the hash of the raw bytes an entry keeps), `patient_id` and `detail` (an
    access's patient and its who/why/what) are chained when the entry has them; entries written
    before they existed hash as they always did.
    """
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()


# Every field that can be chained, in the order of JSON's sort_keys, with its label; the
# optional ones are left out when unset.
_ORDER = tuple((k, k in OPTIONAL, f'"{k}":') for k in sorted((*CHAINED, *OPTIONAL)))


def canonical(entry: dict[str, Any]) -> str:
    """The chained fields as JSON text with sorted keys, no spaces, non-ASCII kept.

    Written out here, field by field, because it runs once per journal entry on the writer's hot
    path: the very text of ``json.dumps(values, sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))``, the definition of the hash since the journal's first entry (tested
    to be the same), without building the dict of values or walking it in an encoder.
    """
    get = entry.get
    parts = []
    for key, optional, label in _ORDER:
        value: Any = get(key)
        if optional and (value is None or value == ""):
            continue
        kind = type(value)
        if kind is str:
            parts.append(label + _quoted(value))
        elif kind is int:
            parts.append(label + int.__repr__(value))
        elif value is None:
            parts.append(label + "null")
        elif kind is datetime:
            parts.append(label + _quoted(_canon(value)))
        else:
            parts.append(label + json.dumps(value, ensure_ascii=False))
    return "{" + ",".join(parts) + "}"


def _canon(value: Any) -> Any:
    """Datetimes as naive UTC text: SQLite gives them back naive, PostgreSQL aware."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


class ChainWriter:
    """Appends chained entries inside one transaction; `close` moves the head."""

    def __init__(self, conn: Connection, driver: Driver | None = None, *, read_head: bool = True) -> None:
        self.driver = driver or Driver(conn)
        self.seq: int = 0
        self.hash: str = ""
        self.pending: list[dict[str, Any]] = []
        if read_head:
            self.driver.read_all([self.head_read()])

    def head_read(self) -> Read:
        """The locked read of the head, for a caller that runs it with its other reads."""
        return (_HEAD_LOCKED if self.driver.postgresql else _HEAD, (), self._take_head)

    def _take_head(self, rows: Rows) -> None:
        ((self.seq, self.hash),) = rows

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Chain one entry (sequence number and hashes); it is written at `close`, with the others."""
        self.seq += 1
        entry = {**DEFAULTS, **entry, "seq": self.seq, "prev_hash": self.hash}
        if entry["raw"] is not None:
            entry["raw_sha256"] = hashlib.sha256(entry["raw"]).hexdigest()
        entry["hash"] = entry_hash(self.hash, entry)
        self.hash = entry["hash"]
        self.pending.append(entry)
        return entry

    def close(self) -> None:
        """Write the entries in one statement and move the head to the last one (same transaction).

        The security events among them go to the audit export's outbox in the same transaction:
        an event is exported if and only if its entry is committed.
        """
        if self.pending:
            self.driver.insert(_APPEND, self.pending)
            events = [{"seq": e["seq"], "kind": kind} for e in self.pending if (kind := security_kind(e))]
            if events:
                self.driver.insert(_OUTBOX, events)
            self.driver.write(_MOVE_HEAD, (self.seq, self.hash))
            self.pending = []


@dataclass(frozen=True, slots=True)
class Broken:
    """The first link that does not hold."""

    seq: int
    problem: str


def _entries(conn: Connection) -> Iterator[Any]:
    """Every chained entry in order, with the SHA-256 of the message it names (if any)."""
    query = (
        select(journal, messages.c.sha256.label("message_sha256"))
        .outerjoin(messages, journal.c.message_id == messages.c.id)
        .where(journal.c.seq.is_not(None))
        .order_by(journal.c.seq)
    )
    rows: Any = conn.execute(query)  # as in _bad_message
    yield from rows


def _check(entry: dict[str, Any], prev: str) -> str | None:
    """What is wrong with one entry against the one before it, or None."""
    if entry["prev_hash"] != prev:
        return "prev_hash does not match the entry before it"
    if entry_hash(prev, entry) != entry["hash"]:
        return "content does not match its hash (edited)"
    raw = entry["raw"]
    if raw is not None:
        if entry["raw_sha256"] and hashlib.sha256(raw).hexdigest() != entry["raw_sha256"]:
            return "its stored raw bytes do not match their hash (edited)"
        if not entry["raw_sha256"] and len(raw) == entry["size"] and hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            return "its stored raw bytes do not match the attempt's SHA-256 (edited)"
    if entry["message_id"] is not None and entry["message_sha256"] != entry["sha256"]:
        if entry["message_sha256"] is None:
            return f"message {entry['message_id']} it names is missing"
        return f"message {entry['message_id']} it names holds other bytes"
    return None


def _bad_message(conn: Connection) -> str | None:
    """The first stored message whose bytes do not match its SHA-256 (an edited body), or None."""
    # Any: compiled (setup.py), a result row typed as SQLAlchemy declares it is checked as a tuple, which it is not
    rows: Any = conn.execute(select(messages.c.id, messages.c.sha256, messages.c.raw).order_by(messages.c.id))
    for row in rows:
        if hashlib.sha256(row.raw).hexdigest() != row.sha256:
            return f"message {row.id}'s raw bytes do not match its SHA-256 (edited)"
    return None


def verify(engine: Engine) -> tuple[Broken | None, int, str]:
    """Walk the chain: (first broken link or None, entries checked, head hash).

    Each entry's hash, its link to the one before, its stored raw bytes, and the message it
    names; then every stored message's bytes; then the head, which must name the last entry.
    """
    prev, expected_seq, count = "", 1, 0
    with engine.connect() as conn:
        unnumbered = conn.execute(select(func.count()).select_from(journal).where(journal.c.seq.is_(None))).scalar()
        if unnumbered:
            return Broken(0, f"{unnumbered} journal row(s) have no sequence number (outside the chain)"), 0, ""
        for row in _entries(conn):
            entry = dict(row._mapping)
            if entry["seq"] != expected_seq:
                return Broken(expected_seq, f"entry {expected_seq} is missing (next is {entry['seq']})"), count, prev
            problem = _check(entry, prev)
            if problem is not None:
                return Broken(entry["seq"], problem), count, prev
            prev, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
        bad = _bad_message(conn)
        if bad is not None:
            return Broken(0, bad), count, prev
        result: Any = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1))  # as in _bad_message
        h = result.first()
    if h is None:
        return Broken(count + 1, "the journal head is missing"), count, prev
    if (h.seq, h.hash) != (count, prev):
        return Broken(count + 1, f"head names entry {h.seq} but the chain ends at {count} (tail deleted)"), count, prev
    return None, count, prev


def record_verification(engine: Engine, operator: str, result: tuple[Broken | None, int, str]) -> str:
    """Journal a verification's result with who asked; a broken chain is a security event (exported).

    The entry is chained after the current head, broken link or not: the break stays where it was.
    """
    broken, count, head_hash = result
    text = f"ok: {count} entries, head {head_hash}" if broken is None else f"broken at {broken.seq}: {broken.problem}"
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        chain.append({"at": datetime.now(UTC), "status": "journal.verify", "operator": operator, "reason": text,
                      "decision": "ok" if broken is None else "broken", "sha256": "", "size": 0})  # fmt: skip
        chain.close()
    return text
