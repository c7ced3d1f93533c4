"""PostgreSQL: intake, and the writers that change the patients it writes, lock the journal head first.

A batch then sees a registry change committed before it, and no two writers wait for each other
in opposite orders (the head, then a patient's row; a patient's row, then the head).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes import ack_of
from lab_engine import LIS_CHUM, count, oru, register, send
from sqlalchemy import Connection, Engine, insert, select, text

from hub.engine.intake import InlineIntake, process
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.journal import ChainWriter
from hub.governance.partners import events
from hub.interfaces import Inbound, Reply
from hub.registers.patients import merge
from hub.store.db import make_engine, upgrade
from hub.store.models import JournalEntry, Message, Patient


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL schema with the CHUM lab registered."""
    engine = make_engine(pg_url)
    upgrade(engine)
    register(engine, [LIS_CHUM])
    yield engine
    engine.dispose()


def _hub(engine: Engine) -> tuple[Pipeline, SQLStore, PartnerDirectory]:
    directory = PartnerDirectory()
    directory.refresh(engine)
    ruled = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    return ruled, SQLStore(engine, directory=directory), directory


def _send_in_thread(engine: Engine, control_id: str) -> tuple[threading.Thread, list[Reply | None]]:
    ruled, store, directory = _hub(engine)
    replies: list[Reply | None] = []

    def run() -> None:
        inbound = Inbound(oru(control_id).encode(), "p", "lab", datetime.now(UTC))
        replies.extend(process(ruled, store, [inbound], lambda: directory.refresh(engine)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, replies


def _waiting_backend(holder: Connection, deadline_s: float = 10.0) -> int:
    """The pid of the backend that waits for a lock the holder has.

    Asked over connections of its own: a transaction sees the server's activity as it was at its
    first look.
    """
    mine = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert holder.engine is not None
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with holder.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> :me"), {"me": mine}
            ).all()
        if pids:
            return int(pids[0][0])
        time.sleep(0.02)
    raise AssertionError("no writer came to wait for the journal head")


def test_a_cut_committed_while_a_batch_waits_for_the_journal_head_is_in_force(pg: Engine) -> None:
    """The batch reads the registry's mark under the head's lock: it sees the cut, is authorized again, and refused."""
    with pg.begin() as holder:
        chain = ChainWriter(holder)
        thread, replies = _send_in_thread(pg, "H2")
        _waiting_backend(holder)  # its snapshot of the directory has the partner active
        row = {"partner_id": "sil-chum", "action": "cut", "state": "cut", "operator": "alice", "reason": "ended"}
        holder.execute(insert(events), {**row, "at": datetime.now(UTC)})  # the registry's mark moves with it
        chain.append({"at": datetime.now(UTC), "status": "partner.cut", "operator": "alice", "reason": "ended"})
        chain.close()
    thread.join(10)
    assert len(replies) == 1 and replies[0] is not None and ack_of(replies[0]).code == "AR"
    assert count(pg, Message) == 0
    with pg.connect() as conn:
        decisions = conn.execute(select(JournalEntry.control_id, JournalEntry.decision)).all()
    assert ("H2", "cut") in decisions


def _row_locks(holder: Connection, pid: int) -> set[str]:
    """The tables in which backend `pid` holds row-exclusive locks (it has written to them)."""
    rows = holder.execute(
        text(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE l.pid = :pid AND l.mode = 'RowExclusiveLock' AND l.granted"
        ),
        {"pid": pid},
    ).scalars()
    return set(rows)


def test_a_merge_takes_the_journal_head_before_it_touches_the_patients(pg: Engine) -> None:
    """A merge waiting for the head holds no patient row: intake, holding the head, may update them."""
    ruled, store, _directory = _hub(pg)
    intake = InlineIntake(ruled, store)
    other = oru("M2").replace("123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", "456^^^CHUM^MR").replace("Lavoie", "Roy")
    for raw in (oru("M1"), other):
        reply = send(intake, raw.encode())
        assert reply is not None and ack_of(reply).code == "AA"
    with pg.connect() as conn:
        survivor, merged = sorted(conn.execute(select(Patient.id)).scalars())
    errors: list[BaseException] = []

    def run() -> None:
        try:
            merge(pg, survivor, merged, "alice", "same person")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    with pg.begin() as holder:
        ChainWriter(holder)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        waiting = _waiting_backend(holder)
        assert not _row_locks(holder, waiting) & {"patients", "patient_merges"}
    thread.join(10)
    assert errors == []
    with pg.connect() as conn:
        assert conn.execute(select(Patient.merged_into).where(Patient.id == merged)).scalar_one() == survivor
