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
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, select

from hub.store.driver import Driver, Insert, Read, Rows
from hub.store.models import JournalEntry, JournalHead

journal = cast(Table, JournalEntry.__table__)
head = cast(Table, JournalHead.__table__)

# The fields the hash covers, in this order (raw bytes are covered through sha256).
CHAINED = (
    "seq", "at", "status", "channel", "peer", "sha256", "size", "sending_application", "sending_facility",
    "control_id", "message_type", "ack_code", "codes", "reason", "message_id", "partner_id", "decision",
    "operator",
)  # fmt: skip


# Built once, run on the driver's cursor (the writer's hot path: hub/driver.py).
_HEAD = 'SELECT "seq", "hash" FROM "journal_head" WHERE "id" = 1'
_HEAD_LOCKED = _HEAD + " FOR UPDATE"
_APPEND = Insert(journal)
_MOVE_HEAD = 'UPDATE "journal_head" SET "seq" = {mark}, "hash" = {mark} WHERE "id" = 1'

# What an entry holds for a field it does not set, as the database gives it back.
DEFAULTS: dict[str, Any] = dict.fromkeys(CHAINED, "") | {"size": 0, "message_id": None, "raw": None}


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the chained fields."""
    values = {k: _canon(entry.get(k)) for k in CHAINED}
    payload = prev_hash + json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
        entry["hash"] = entry_hash(self.hash, entry)
        self.hash = entry["hash"]
        self.pending.append(entry)
        return entry

    def close(self) -> None:
        """Write the entries in one statement and move the head to the last one (same transaction)."""
        if self.pending:
            self.driver.insert(_APPEND, self.pending)
            self.driver.execute(_MOVE_HEAD, (self.seq, self.hash))
            self.pending = []


@dataclass(frozen=True, slots=True)
class Broken:
    """The first link that does not hold."""

    seq: int
    problem: str


def _entries(engine: Engine) -> Iterator[Any]:
    with engine.connect() as conn:
        yield from conn.execute(select(journal).where(journal.c.seq.is_not(None)).order_by(journal.c.seq))


def verify(engine: Engine) -> tuple[Broken | None, int, str]:
    """Walk the chain: (first broken link or None, entries checked, head hash)."""
    prev, expected_seq, count = "", 1, 0
    for row in _entries(engine):
        entry = dict(row._mapping)
        if entry["seq"] != expected_seq:
            return Broken(expected_seq, f"entry {expected_seq} is missing (next is {entry['seq']})"), count, prev
        if entry["prev_hash"] != prev:
            return Broken(entry["seq"], "prev_hash does not match the entry before it"), count, prev
        if entry_hash(prev, entry) != entry["hash"]:
            return Broken(entry["seq"], "content does not match its hash (edited)"), count, prev
        prev, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
    with engine.connect() as conn:
        h = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
    if (h.seq, h.hash) != (count, prev):
        return Broken(count + 1, f"head names entry {h.seq} but the chain ends at {count} (tail deleted)"), count, prev
    return None, count, prev
