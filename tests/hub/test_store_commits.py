"""The store's commits: group commit, the writer lock, rules and the partner registry at commit time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import ack_of
from lab_engine import LIS_CHUM, CountingStore, count, lab_directory, oru, pipeline, register, send
from sqlalchemy import Engine, select

from hub.engine.intake import GroupCommitIntake, InlineIntake, process
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.partners import change_state
from hub.interfaces import Inbound, Reply
from hub.store.db import WriterLock, make_engine, upgrade, writer_lock
from hub.store.models import JournalEntry, LabOrder, Message


def test_group_commit_shares_transactions_and_acks_every_message(engine: Engine) -> None:
    """Messages queued during a commit share the next transaction; every one gets its AA."""
    store = CountingStore(engine)
    replies: dict[int, Reply | None] = {}
    done = threading.Event()

    def call_from_thread(fn: Callable[..., object], *args: object) -> None:
        fn(*args)
        if len(replies) == 200:
            done.set()

    def keep(reply: Reply | None, n: int) -> None:
        replies[n] = reply

    intake = GroupCommitIntake(pipeline(), store, call_from_thread, max_batch=100)
    for n in range(200):
        intake.handle(Inbound(oru(f"G{n}").encode(), "p", "lab", datetime.now(UTC))).addCallback(keep, n)
    intake.start()
    assert done.wait(60)
    intake.stop()
    assert all(r is not None and ack_of(r).code == "AA" for r in replies.values())
    assert count(engine, Message) == 200
    assert max(store.batches) > 1
    assert sum(store.batches) == 200


def test_final_then_preliminary_is_refused_when_the_rule_set_asks(engine: Engine) -> None:
    """lab.status-transition: F then P gets AE 103 at OBR-25 and OBX-11; F then C is accepted."""
    from certification.ruleset import load_ruleset

    policy = ChannelPolicy("lab", "lab", ruleset=load_ruleset("tgv-lab-2026.1"))
    ruled = Pipeline(channels={"lab": policy}, directory=lab_directory())
    intake = InlineIntake(ruled, SQLStore(engine))
    nam = "LAVH54623112^^^RAMQ^NAM"
    final = oru("T1", "F").replace("123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", nam)
    prelim = oru("T2", "P").replace("123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", nam)
    corrected = oru("T3", "C").replace("123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", nam)
    first = send(intake, final.encode())
    assert first is not None
    assert ack_of(first).code == "AA"
    back = send(intake, prelim.encode())
    assert back is not None
    ack = ack_of(back)
    assert ack.code == "AE"
    locations = [e.split("|")[2] for e in ack.errors]
    assert locations == ["OBR^1^25", "OBX^1^11", "OBX^2^11"]
    assert all("|103^" in e for e in ack.errors)
    forward = send(intake, corrected.encode())
    assert forward is not None
    assert ack_of(forward).code == "AA"
    assert count(engine, LabOrder) == 2
    with engine.connect() as conn:
        refused = conn.execute(select(JournalEntry).where(JournalEntry.control_id == "T2")).one()
    assert (refused.status, refused.ack_code, refused.codes) == ("error", "AE", "103,103,103")


def test_sqlite_writers_take_turns_through_the_writer_lock(tmp_path: Path) -> None:
    """A hub writer waits while another holds the SQLite writer lock, and commits once it is let go."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}", busy_timeout_ms=2000)
    upgrade(engine)
    other = writer_lock(engine)  # what a second worker process's writer holds
    intake = InlineIntake(pipeline(), SQLStore(engine))
    replies: list[Reply | None] = []
    with other():
        worker = threading.Thread(target=lambda: replies.append(send(intake, oru("L1").encode())))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()  # blocked on the lock, not failed
        assert count(engine, Message) == 0
    worker.join(10)
    assert replies and replies[0] is not None and ack_of(replies[0]).code == "AA"
    assert count(engine, Message) == 1
    assert (tmp_path / "lock.db-writer.lock").exists()
    engine.dispose()


def test_postgresql_and_memory_databases_need_no_writer_lock() -> None:
    """Only SQLite files get a lock file; PostgreSQL orders writers itself (row locks, constraints)."""
    assert writer_lock(make_engine("sqlite://")) is contextlib.nullcontext
    assert writer_lock(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")) is contextlib.nullcontext


def test_a_cut_after_the_directory_was_loaded_is_in_force_at_the_next_commit(engine: Engine) -> None:
    """The commit reads the registry's change mark: the batch is authorized again, and refused."""
    register(engine, [LIS_CHUM])
    directory = PartnerDirectory()
    directory.refresh(engine)
    ruled = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    store = SQLStore(engine, directory=directory)
    refreshes: list[bool] = []

    def refresh() -> None:
        refreshes.append(directory.refresh(engine))

    (first,) = process(ruled, store, [Inbound(oru("K1").encode(), "p", "lab", datetime.now(UTC))], refresh)
    assert first is not None and ack_of(first).code == "AA"
    assert refreshes == []  # the snapshot was current: no refresh, no extra query before the batch
    change_state(engine, "sil-chum", "cut", "alice", "agreement ended")
    (second,) = process(ruled, store, [Inbound(oru("K2").encode(), "p", "lab", datetime.now(UTC))], refresh)
    assert second is not None and ack_of(second).code == "AR"
    assert refreshes == [True]
    assert count(engine, Message) == 1
    with engine.connect() as conn:
        decisions = conn.execute(select(JournalEntry.control_id, JournalEntry.decision)).all()
    assert ("K2", "cut") in decisions


def test_a_writer_that_gave_up_on_the_lock_lets_it_go_as_soon_as_it_gets_it(tmp_path: Path) -> None:
    """Past the timeout the writer raises; the wait it left behind releases the lock the moment it is granted."""
    path = tmp_path / "lock.db-writer.lock"
    lock = WriterLock(path, timeout_s=0.2)
    other = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # a writer of another process
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError), lock.held():
            pass
        fcntl.flock(other, fcntl.LOCK_UN)
        for _ in range(500):  # the abandoned wait is granted, then closes its descriptor
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.01)
        else:
            raise AssertionError("the lock stayed held by a wait given up")
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
    with lock.held():  # and this writer takes it again
        pass


def test_waits_given_up_leave_one_waiting_thread_which_the_next_writer_takes_over(tmp_path: Path) -> None:
    """Timed-out waits don't pile up threads blocked in flock: one waits, and serves the next writer."""
    path = tmp_path / "lock.db-writer.lock"
    lock = WriterLock(path, timeout_s=0.1)

    def waiting() -> int:
        return sum(t.name == "passerelle-writer-lock" for t in threading.enumerate())

    before = waiting()
    other = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # a writer of another process, stuck
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        for _ in range(3):
            with pytest.raises(TimeoutError), lock.held():
                pass
        assert waiting() == before + 1
        got: list[bool] = []

        def write() -> None:
            with lock.held():
                got.append(True)

        writer = threading.Thread(target=write)
        lock.timeout_s = 5.0
        writer.start()
        time.sleep(0.1)
        assert not got  # still waiting on the stuck writer
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(5)
        assert got == [True]
        assert waiting() == before + 1
        with pytest.raises(BlockingIOError), lock.held():  # held again, by this process's next writer
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
