"""The writer never dies quietly, and one refused value fails only its own message."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import ack_of
from lab_engine import oru, pipeline
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError

from hub.engine.intake import GroupCommitIntake, process
from hub.engine.outcome import Prepared, Verdict
from hub.engine.writer import SQLStore
from hub.interfaces import Inbound, Outcome
from hub.store.models import JournalEntry, Message


class _Fatal(BaseException):
    """What no `except Exception` catches: the writer thread ends."""


class _DyingStore:
    checks_directory = False

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        raise _Fatal


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_that_ends_unasked_calls_on_death() -> None:
    """The intake reports its writer's death on the reactor; `serve` then exits 1 (hub.failed)."""
    died = threading.Event()
    intake = GroupCommitIntake(pipeline(), _DyingStore(), lambda f, *a: f(*a), on_death=died.set)
    intake.start()
    intake.handle(Inbound(oru("D1").encode(), "p", "lab", datetime.now(UTC)))
    assert died.wait(5)
    intake._thread.join(5)
    assert not intake.alive


def test_stopping_the_writer_is_not_a_death() -> None:
    """A stop asked for ends the thread without calling on_death."""
    died = threading.Event()
    intake = GroupCommitIntake(pipeline(), _DyingStore(), lambda f, *a: f(*a), on_death=died.set)
    intake.start()
    intake.stop()
    assert not intake.alive and not died.is_set()


class _RefusesOne(SQLStore):
    """A store whose database refuses one control ID's value (DataError), as PostgreSQL would."""

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        if any(p.header is not None and p.header.control_id == "BAD" and p.status.value == "accepted" for p in batch):
            raise DataError("INSERT", {}, ValueError("invalid byte sequence"))
        return super().commit(batch)


def test_a_refused_value_fails_only_its_own_message(engine: Engine) -> None:
    """One message's refused value: that one gets AR 207 and is journaled; the rest of the batch commits."""
    now = datetime.now(UTC)
    batch = [Inbound(oru(cid).encode(), "p", "lab", now) for cid in ("OK1", "BAD", "OK2")]
    replies: list[Any] = process(pipeline(), _RefusesOne(engine), batch)
    codes = [ack_of(r).code for r in replies]
    assert codes == ["AA", "AR", "AA"]
    assert replies[1].code is Outcome.AR and "|207^" in ack_of(replies[1]).errors[0]
    with engine.connect() as conn:
        stored = sorted(conn.execute(select(Message.control_id)).scalars())
        refused = conn.execute(select(JournalEntry.status).where(JournalEntry.control_id == "BAD")).scalars().all()
    assert stored == ["OK1", "OK2"]
    assert refused == ["rejected"]
