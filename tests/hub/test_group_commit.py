"""The writer gathers the senders it just answered into one commit, and keeps a lone sender waiting for no one."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lab_engine import oru, pipeline
from twisted.internet.defer import Deferred

from hub.engine.intake import GroupCommitIntake
from hub.engine.outcome import Prepared, Status, Verdict
from hub.interfaces import Inbound, Reply


class _Recording:
    """A store that commits nothing but records each batch's size, and lets a test know of each commit."""

    checks_directory = False

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.committed = threading.Semaphore(0)

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        self.sizes.append(len(batch))
        self.committed.release()
        return [Verdict(Status.ACCEPTED, p, 1) for p in batch]


def _intake(store: _Recording, gather_s: float) -> GroupCommitIntake:
    def call(f: Any, *args: Any) -> None:
        f(*args)

    return GroupCommitIntake(pipeline(), store, call, gather_s=gather_s)


def _frame(cid: str) -> Inbound:
    return Inbound(oru(cid).encode(), "127.0.0.1", "lab", datetime.now(UTC))


def _committed(store: _Recording) -> None:
    assert store.committed.acquire(timeout=10), f"the writer committed nothing: {store.sizes}"


def test_the_senders_answered_together_are_committed_together_when_they_send_again() -> None:
    """Four frames committed at once; their next four, arriving one by one, make one batch, not four."""
    store = _Recording()
    intake = _intake(store, gather_s=30.0)  # long enough that only the expected count ends the wait
    answered = _queued(intake, [f"G{n}" for n in range(4)])
    intake.start()
    try:
        for _ in range(4):  # the replies went out: the senders now send their next frames
            assert answered.acquire(timeout=10)
        _committed(store)
        for n in range(4, 8):  # the four senders answer one after the other, slower than the writer
            intake.handle(_frame(f"G{n}"))
            time.sleep(0.02)
        _committed(store)
        assert store.sizes == [4, 4]
    finally:
        intake.stop()


def test_a_lone_sender_is_committed_at_once() -> None:
    """After a batch of one the next frame is expected alone: committed without waiting out 30 s of gathering."""
    store = _Recording()
    intake = _intake(store, gather_s=30.0)
    intake.start()
    try:
        for cid in ("L1", "L2", "L3"):
            answered = threading.Event()
            intake.handle(_frame(cid)).addCallback(lambda _reply, done: done.set(), answered)
            assert answered.wait(10)  # within 10 s: the writer did not wait for anyone else
        assert store.sizes == [1, 1, 1]
    finally:
        intake.stop()


def test_senders_that_went_away_cost_the_next_frame_one_gathering_wait_at_most() -> None:
    """Three senders answered, only one sends again: its frame is committed alone once gather_s has passed."""
    store = _Recording()
    intake = _intake(store, gather_s=0.05)
    answered = _queued(intake, ["M0", "M1", "M2"])
    intake.start()
    try:
        for _ in range(3):
            assert answered.acquire(timeout=10)
        intake.handle(_frame("M3"))
        _committed(store)
        _committed(store)
        assert store.sizes == [3, 1]
    finally:
        intake.stop()


def _queued(intake: GroupCommitIntake, cids: list[str]) -> threading.Semaphore:
    """Frames queued before the writer starts (one batch); the semaphore is released once per reply."""
    answered = threading.Semaphore(0)
    for cid in cids:
        d = _deferred()
        d.addCallback(lambda _reply: answered.release())
        intake._queue.put((_frame(cid), d))
    return answered


def _deferred() -> Deferred[Reply | None]:
    return Deferred()
