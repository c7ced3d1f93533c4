"""The engine and repository together: pipeline + store on SQLite and PostgreSQL, what is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fakes import FailingStore, ack_of
from lab_engine import count, oru, pipeline, send
from sqlalchemy import Engine, select

from hub.engine.intake import InlineIntake, process
from hub.engine.writer import SQLStore
from hub.interfaces import Inbound, Outcome
from hub.store.models import JournalEntry, LabObservation, LabOrder, Message
from hub.store.queries import find_patients, patient_record


def test_accepted_message_is_stored_with_its_ack_journal_and_records(engine: Engine) -> None:
    """AA comes back; message, ACK bytes, journal entry and records are all in the repository."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    reply = send(intake, oru("C1").encode())
    assert reply is not None
    assert ack_of(reply).code == "AA"
    with engine.connect() as conn:
        msg = conn.execute(select(Message)).one()
        entry = conn.execute(select(JournalEntry)).one()
    assert reply is not None and msg.ack == reply.ack
    assert msg.raw == oru("C1").encode()
    assert entry.status == "accepted"
    assert entry.message_id == msg.id
    assert len(entry.sha256) == 64
    (pid,) = find_patients(engine, "LAVH54623112")
    record = patient_record(engine, pid)
    ids = {i["value"]: i["is_nam"] for i in record["patient"]["identifiers"]}
    assert ids == {"123": False, "LAVH54623112": True}
    (order,) = record["lab"]["orders"]
    assert order["current"]["ordering_provider"] == "Tremblay, Luc (1234)"
    assert order["current"]["notes"] == ["Échantillon hémolysé"]
    glucose, note = order["observations"]
    assert glucose["current"]["value_num"] == 5.4
    assert glucose["current"]["units"] == "mmol/L"
    assert glucose["current"]["notes"] == ["Prélevé à jeun"]
    assert note["current"]["value_text"] == "cœur normal\nœdème absent"


def test_same_bytes_again_get_the_stored_ack_and_no_second_copy(engine: Engine) -> None:
    """A resent message gets the same ACK bytes; one message row; the journal says duplicate (row 22)."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    first = send(intake, oru("C1").encode())
    second = send(intake, oru("C1").encode())
    assert first is not None and second is not None
    assert second.ack == first.ack
    assert (first.outcome, second.outcome, second.code) == (Outcome.AA, Outcome.DUPLICATE, Outcome.AA)
    assert count(engine, Message) == 1
    with engine.connect() as conn:
        statuses = conn.execute(select(JournalEntry.status).order_by(JournalEntry.id)).scalars().all()
    assert statuses == ["accepted", "duplicate"]


def test_same_control_id_other_bytes_is_ae_205_and_quarantined(engine: Engine) -> None:
    """Other content under a used MSH-10 gets AE 205; its bytes are kept in the journal only (row 23)."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    send(intake, oru("C1").encode())
    reply = send(intake, oru("C1", value="9.9").encode())
    assert reply is not None
    ack = ack_of(reply)
    assert ack.code == "AE"
    assert "MSH^1^10|205^" in ack.errors[0]
    assert count(engine, Message) == 1
    with engine.connect() as conn:
        conflict = conn.execute(select(JournalEntry).where(JournalEntry.status == "conflict")).one()
    assert conflict.raw == oru("C1", value="9.9").encode()
    assert conflict.codes == "205"


def test_result_lifecycle_keeps_every_version(engine: Engine) -> None:
    """Preliminary -> final -> corrected: the current value is the latest, earlier ones are kept."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    for cid, status, value in (("C1", "P", "5.0"), ("C2", "F", "5.4"), ("C3", "C", "5.6")):
        reply = send(intake, oru(cid, status, value).encode())
        assert reply is not None
        assert ack_of(reply).code == "AA"
    (pid,) = find_patients(engine, "123")
    (order,) = patient_record(engine, pid)["lab"]["orders"]
    assert order["current"]["status"] == "C"
    assert [h["status"] for h in order["history"]] == ["F", "P"]
    glucose = order["observations"][0]
    assert (glucose["current"]["value_text"], glucose["current"]["version"]) == ("5.6", 3)
    assert [h["value_text"] for h in glucose["history"]] == ["5.4", "5.0"]
    assert count(engine, LabOrder) == 3
    assert count(engine, LabObservation) == 6


def test_latin1_and_utf8_french_text_survive(engine: Engine) -> None:
    """8859/1 bytes with MSH-18 8859/1 and UTF-8 bytes with œ both read back intact.

    The names agree with the messages' NAM (LAVH…): a contradicting one would be held unresolved.
    """
    intake = InlineIntake(pipeline(), SQLStore(engine))
    latin = (
        oru("L1", charset="8859/1", name="Lavoié^Hélène-François").replace("cœur", "coeur").replace("œdème", "oedème")
    )
    reply = send(intake, latin.encode("latin-1"))
    assert reply is not None
    assert ack_of(reply).code == "AA"
    send(intake, oru("U1", name="Lavœ^Héloïse").encode("utf-8"))
    (pid,) = find_patients(engine, "123")
    record = patient_record(engine, pid)
    assert (record["patient"]["family"], record["patient"]["given"]) == ("Lavœ", "Héloïse")
    with engine.connect() as conn:
        texts = conn.execute(select(LabOrder.notes)).scalars().all()
    assert all(json.loads(t) == ["Échantillon hémolysé"] for t in texts)


def test_refused_attempts_are_journaled_but_not_stored(engine: Engine) -> None:
    """An AE/AR leaves a journal entry with reasons and raw bytes, and no message row."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    reply = send(intake, oru("").encode())
    assert reply is not None
    assert ack_of(reply).code == "AE"
    assert count(engine, Message) == 0
    with engine.connect() as conn:
        entry = conn.execute(select(JournalEntry)).one()
    assert (entry.status, entry.codes, entry.ack_code) == ("error", "101", "AE")
    assert "MSH^1^10" in entry.reason
    assert entry.raw == oru("").encode()


def test_database_outage_answers_ar_207_never_aa() -> None:
    """When the commit fails the sender gets AR with ERR-3 207 (row 45)."""
    reply = process(pipeline(), FailingStore(), [Inbound(oru("C1").encode(), "p", "lab", datetime.now(UTC))])[0]
    assert reply is not None
    ack = ack_of(reply)
    assert ack.code == "AR"
    assert "|207^" in ack.errors[0]
