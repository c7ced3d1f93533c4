"""The metrics move with the traffic, and their exposition parses with prometheus-client's parser."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from helpers import lab_message
from lab_engine import LIS_CHUM, register
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from hub import metrics
from hub.engine.intake import InlineIntake
from hub.engine.outcome import Prepared, Verdict
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.interfaces import Inbound


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_and_histograms_move_with_the_messages(engine: Engine) -> None:
    """Two accepted messages and one from an unknown sender: by status and ACK code, refusals by reason."""
    register(engine, [LIS_CHUM])
    directory = PartnerDirectory()
    directory.refresh(engine)
    pipeline = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    intake = InlineIntake(pipeline, SQLStore(engine, directory=directory), lambda: directory.refresh(engine))
    before = {
        "accepted": _value("passerelle_messages_total", channel="lab", status="accepted", ack_code="AA"),
        "refused": _value("passerelle_refused_links_total", reason="unknown-sender"),
        "journal": _value("passerelle_journal_entries_total"),
        "latency": _value("passerelle_end_to_end_seconds_count", channel="lab"),
        "batches": _value("passerelle_batch_size_count"),
    }
    for raw in (lab_message("M1"), lab_message("M2"), lab_message("M3", app="NOBODY")):
        intake.handle(Inbound(raw, "127.0.0.1", "lab", datetime.now(UTC)))
    after = {
        "accepted": _value("passerelle_messages_total", channel="lab", status="accepted", ack_code="AA"),
        "refused": _value("passerelle_refused_links_total", reason="unknown-sender"),
        "journal": _value("passerelle_journal_entries_total"),
        "latency": _value("passerelle_end_to_end_seconds_count", channel="lab"),
        "batches": _value("passerelle_batch_size_count"),
    }
    assert {k: after[k] - before[k] for k in before} == {
        "accepted": 2, "refused": 1, "journal": 3, "latency": 3, "batches": 3,
    }  # fmt: skip


class _SlowStore:
    """The real store, after 30 ms of this thread's CPU at each commit."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.checks_directory = store.checks_directory

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        until = time.thread_time() + 0.030
        while time.thread_time() < until:
            pass
        return self.store.commit(batch)


def test_the_writers_cpu_is_counted_in_the_phase_that_spent_it(engine: Engine) -> None:
    """A commit that burns 30 ms of CPU adds at least that to the commit phase, and none of it to prepare."""
    register(engine, [LIS_CHUM])
    directory = PartnerDirectory()
    directory.refresh(engine)
    pipeline = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    slow = _SlowStore(SQLStore(engine, directory=directory))
    intake = InlineIntake(pipeline, slow, lambda: directory.refresh(engine))
    before = {p: _value("passerelle_writer_cpu_seconds_total", phase=p) for p in ("prepare", "commit")}
    intake.handle(Inbound(lab_message("CPU1"), "127.0.0.1", "lab", datetime.now(UTC)))
    spent = {p: _value("passerelle_writer_cpu_seconds_total", phase=p) - before[p] for p in before}
    assert spent["commit"] >= 0.030
    assert 0 < spent["prepare"] < 0.030


def test_the_exposition_parses() -> None:
    """Every family the hub declares is in the text, and prometheus-client's parser reads it back."""
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode("utf-8"))}
    assert names >= {
        "passerelle_messages", "passerelle_end_to_end_seconds", "passerelle_commit_seconds",
        "passerelle_batch_size", "passerelle_writer_queue", "passerelle_refused_links",
        "passerelle_consultations", "passerelle_journal_entries", "passerelle_writer_cpu_seconds",
        "passerelle_build_info",
    }  # fmt: skip
