"""Set-based writes: a batch written at once leaves the repository exactly as one by one would.

The writer looks things up once per batch and inserts once per table, so every rule that
depends on what is stored (dedupe, versions, status transitions, patient matching) must also
see what earlier messages of the same batch staged. These tests write the same traffic as one
batch and one message per transaction, on two fresh databases, and compare everything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import ack_of
from lab_engine import CountingStore, lab_directory
from sqlalchemy import Engine, select

from certification.ruleset import load_ruleset
from hub.engine.intake import process
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.interfaces import Inbound, Outcome, Reply
from hub.store import records as records_store
from hub.store.db import make_engine, upgrade
from hub.store.models import JournalEntry, Patient
from hub.store.queries import patient_record

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def lab(control_id: str, pid3: str, name: str, filler: str, status: str, *, value: str = "5.4") -> bytes:
    """An ORU^R01 for one order `filler` with two observations, all at `status`."""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        f"PID|1||{pid3}||{name}||19541231|F\r"
        f"OBR|1|P{filler}|{filler}^LAB|2345-7^Glucose^LN|||20260101080000|||||||||1234^Tremblay^Luc"
        f"||||||20260101110000|||{status}\r"
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L|3.9-6.1|N|||{status}|||20260101090000\r"
        f"OBX|2|ST|8251-1^Note^LN||cœur normal, œdème absent, reçu à l'hôpital||||||{status}\r"
    ).encode()


X = "123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM"
TRAFFIC = [
    lab("B1", X, "Lavoie^Hélène", "F1", "P"),  # new patient X, two identifiers
    lab("B2", "456^^^CHUM^MR", "Gagnon^Josée", "F2", "F"),  # new patient Y
    lab("B3", X, "Lavoie^Hélène-Marie", "F1", "F"),  # X again: F1 version 2, demographics changed
    lab("B2", "456^^^CHUM^MR", "Gagnon^Josée", "F2", "F"),  # the same bytes again: duplicate
    lab("B2", "456^^^CHUM^MR", "Gagnon^Josée", "F2", "C", value="9.9"),  # same key, other bytes: conflict AE 205
    lab("B4", X, "Lavoie^Hélène-Marie", "F1", "P"),  # final back to preliminary: AE, not stored
    lab("B5", "789^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", "Lavoie^Hélène-Marie", "F3", "F"),  # NAM finds X, adds 789
    lab("B6", X, "Lavoie^Hélène-Marie", "F1", "C", value="6.1"),  # corrected: version 3
    b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01|B7|P|2.5.1\rPID|1\rOBX|x\r",  # refused before the store
    lab("B8", "999^^^CHUM^MR~999^^^CHUM^MR", "Roy^François", "F4", "F"),  # a PID-3 naming one identifier twice
    lab("B9", "999^^^CHUM^MR", "Roy^François", "F4", "F"),  # new patient of this batch found again: F4 v2
    lab("B1", X, "Lavoie^Hélène", "F1", "P"),  # a duplicate of this batch's first message
]


def ruled_pipeline() -> Pipeline:
    """The lab channel with the tgv-lab rule set, so the status transition rule is on."""
    policy = ChannelPolicy("lab", "lab", ruleset=load_ruleset("tgv-lab-2026.1"))
    return Pipeline(channels={"lab": policy}, directory=lab_directory())


def repository(engine: Engine) -> dict[str, Any]:
    """What an observer sees: every patient's record and the journal, without wall-clock times."""
    with engine.connect() as conn:
        patient_ids = conn.execute(select(Patient.id).order_by(Patient.id)).scalars().all()
        journal = conn.execute(
            select(
                JournalEntry.seq,
                JournalEntry.status,
                JournalEntry.control_id,
                JournalEntry.message_id,
                JournalEntry.ack_code,
                JournalEntry.codes,
                JournalEntry.reason,
            ).order_by(JournalEntry.seq)
        ).all()
    records = [patient_record(engine, pid) for pid in patient_ids]
    for record in records:  # a demographic version's time is the wall clock's
        for version in record["patient"]["history"]:
            version.pop("recorded_at")
    return {"patients": records, "journal": [tuple(r) for r in journal]}


def second_engine(tmp_path: Path) -> Engine:
    """A fresh SQLite repository to write the same traffic one message at a time."""
    eng = make_engine(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    upgrade(eng)
    return eng


def test_one_batch_equals_one_message_per_transaction(engine: Engine, tmp_path: Path) -> None:
    """Same ACK codes and errors, same records, versions, patients and journal either way."""
    inbound = [Inbound(raw, "127.0.0.1", "lab", AT) for raw in TRAFFIC]
    store = CountingStore(engine)
    batched = process(ruled_pipeline(), store, inbound)
    assert store.batches == [len(TRAFFIC)]  # one transaction: no fallback to one by one was needed
    single_engine = second_engine(tmp_path)
    single = [process(ruled_pipeline(), SQLStore(single_engine), [i])[0] for i in inbound]

    def answers(replies: list[Reply | None]) -> list[tuple[str, list[str]]]:
        out = []
        for reply in replies:
            assert reply is not None
            ack = ack_of(reply)
            out.append((ack.code, [e.split("|")[2] + " " + e.split("|")[3] for e in ack.errors]))
        return out

    assert answers(batched) == answers(single)
    codes = [code for code, _errors in answers(batched)]
    assert codes == ["AA", "AA", "AA", "AA", "AE", "AE", "AA", "AA", "AE", "AA", "AA", "AA"]
    assert repository(engine) == repository(single_engine)
    single_engine.dispose()


def test_a_batch_resolves_versions_patients_and_duplicates_among_its_own_messages(engine: Engine) -> None:
    """Within one batch: F1 gets versions 1-3, the NAM links 789 to X, duplicates name the first copy."""
    inbound = [Inbound(raw, "127.0.0.1", "lab", AT) for raw in TRAFFIC]
    store = CountingStore(engine)
    replies = process(ruled_pipeline(), store, inbound)
    assert store.batches == [len(TRAFFIC)]
    acks = [r.ack if r is not None else None for r in replies]
    assert acks[3] == acks[1]  # the duplicate gets the ACK stored for the first copy
    assert acks[11] == acks[0]
    assert replies[3] is not None and replies[3].outcome is Outcome.DUPLICATE
    records = repository(engine)
    x, y, roy = records["patients"]
    assert sorted(i["value"] for i in x["patient"]["identifiers"]) == ["123", "789", "LAVH54623112"]
    assert x["patient"]["given"] == "Hélène-Marie"
    f1 = next(o for o in x["lab"]["orders"] if "F1" in o["key"])
    assert [f1["current"]["version"], *(h["version"] for h in f1["history"])] == [3, 2, 1]
    assert [f1["current"]["status"], *(h["status"] for h in f1["history"])] == ["C", "F", "P"]
    assert y["patient"]["family"] == "Gagnon"
    assert [i["value"] for i in roy["patient"]["identifiers"]] == ["999"]
    (f4,) = roy["lab"]["orders"]
    assert f4["current"]["version"] == 2
    observation = f4["observations"][1]["current"]
    assert observation["value_text"] == "cœur normal, œdème absent, reçu à l'hôpital"
    statuses = [(status, control_id) for _seq, status, control_id, *_rest in records["journal"]]
    assert statuses[3] == ("duplicate", "B2") and statuses[4] == ("conflict", "B2")
    assert statuses[5] == ("error", "B4") and statuses[11] == ("duplicate", "B1")
    duplicate_of_first = records["journal"][11]
    assert duplicate_of_first[3] == records["journal"][0][3]  # the same message id


def test_lookups_split_into_chunks_give_the_same_repository(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IN lists are cut at 5,000 values (SQLite's bound-parameter limit); at 3 the result is the same.

    Three messages are stored first, so the batch's lookups have stored patients and versions
    to find: 4 identifier values and 6 observation keys need two chunks each.
    """
    monkeypatch.setattr(records_store, "_IN_CHUNK", 3)
    stored = [Inbound(raw, "127.0.0.1", "lab", AT) for raw in TRAFFIC[:3]]
    batch = [
        Inbound(raw, "127.0.0.1", "lab", AT)
        for raw in (
            lab("C1", X, "Lavoie^Hélène-Marie", "F1", "C", value="6.0"),
            lab("C2", "456^^^CHUM^MR", "Gagnon^Josée", "F2", "C", value="7.0"),
            lab("C3", "789^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", "Lavoie^Hélène-Marie", "F1", "P"),
            lab("C4", "456^^^CHUM^MR", "Gagnon^Josée", "F2", "F"),
        )
    ]
    single_engine = second_engine(tmp_path)
    for i in stored:
        process(ruled_pipeline(), SQLStore(engine), [i])
        process(ruled_pipeline(), SQLStore(single_engine), [i])
    store = CountingStore(engine)
    batched = process(ruled_pipeline(), store, batch)
    assert store.batches == [len(batch)]  # a lookup missing a chunk would collide and fall back
    single = [process(ruled_pipeline(), SQLStore(single_engine), [i])[0] for i in batch]
    assert [ack_of(r).code for r in batched] == [ack_of(r).code for r in single]
    assert [ack_of(r).code for r in batched] == ["AA", "AA", "AE", "AA"]
    assert repository(engine) == repository(single_engine)
    single_engine.dispose()
