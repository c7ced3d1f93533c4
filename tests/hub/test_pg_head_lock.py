"""PostgreSQL: the journal head's row lock orders a batch after a registry change committed before it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes import ack_of
from lab_engine import LIS_CHUM, count, oru, register
from sqlalchemy import Connection, Engine, insert, select, text

from hub.engine.intake import process
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.journal import ChainWriter
from hub.governance.partners import events
from hub.interfaces import Inbound, Reply
from hub.store.db import make_engine, upgrade
from hub.store.models import JournalEntry, Message


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
    """The pid of the backend that waits for a lock the holder has."""
    mine = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pids = holder.execute(
            text("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> :me"), {"me": mine}
        ).all()
        if pids:
            return int(pids[0][0])
        time.sleep(0.02)
    raise AssertionError("no batch came to wait for the journal head")


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
