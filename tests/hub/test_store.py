"""The engine and repository together: pipeline + store on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fakes import FailingStore, ack_of
from sqlalchemy import Engine, func, select

from hub.engine.intake import GroupCommitIntake, InlineIntake, process
from hub.engine.outcome import Verdict
from hub.engine.pipeline import ChannelPolicy, Pipeline, Prepared
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.partners import PartnerSpec, change_state, import_specs
from hub.interfaces import Inbound, Outcome, Reply
from hub.store.db import make_engine, upgrade, writer_lock
from hub.store.models import JournalEntry, LabObservation, LabOrder, Message
from hub.store.queries import find_patients, patient_record


def oru(control_id: str, status: str = "F", value: str = "5.4", charset: str = "", name: str = "Lavoie^Hélène") -> str:
    """A small ORU^R01 with one order and two observations."""
    msh18 = f"||||||{charset}" if charset else ""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1{msh18}\r"
        f"PID|1||123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM||{name}||19541231|F\r"
        f"OBR|1|P1|F1^LAB|2345-7^Glucose^LN|||20260101080000|||||||||1234^Tremblay^Luc||||||20260101110000|||{status}\r"
        "NTE|1||Échantillon hémolysé\r"
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L|3.9-6.1|N|||{status}|||20260101090000\r"
        "NTE|1||Prélevé à jeun\r"
        f"OBX|2|ST|8251-1^Note^LN||cœur normal\\.br\\œdème absent||||||{status}\r"
    )


LIS_CHUM = PartnerSpec.model_validate(
    {
        "id": "sil-chum",
        "name": "SIL CHUM",
        "category": "government",
        "domains": ["lab"],
        "product": {"name": "LabSys", "version": "4.2"},
        "identities": [{"sending_application": "LIS", "sending_facility": "CHUM"}],
    }
)


def pipeline() -> Pipeline:
    """A pipeline with one lab channel and one government partner, LIS/CHUM."""
    return Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=PartnerDirectory.from_specs([LIS_CHUM]))


def send(intake: InlineIntake, raw: bytes) -> Reply | None:
    """Hand one frame to the engine and return its reply."""
    inbound = Inbound(raw, "127.0.0.1", "lab", datetime.now(UTC))
    result: list[Reply | None] = []
    intake.handle(inbound).addCallback(result.append)
    return result[0]


def count(engine: Engine, model: type) -> int:
    """Rows in a table."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


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
    """8859/1 bytes with MSH-18 8859/1 and UTF-8 bytes with œ both read back intact."""
    intake = InlineIntake(pipeline(), SQLStore(engine))
    latin = oru("L1", charset="8859/1", name="Bélanger^François").replace("cœur", "coeur").replace("œdème", "oedème")
    reply = send(intake, latin.encode("latin-1"))
    assert reply is not None
    assert ack_of(reply).code == "AA"
    send(intake, oru("U1", name="Lœwy^Zoé").encode("utf-8"))
    (pid,) = find_patients(engine, "123")
    record = patient_record(engine, pid)
    assert (record["patient"]["family"], record["patient"]["given"]) == ("Lœwy", "Zoé")
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


class CountingStore(SQLStore):
    """Records the size of every batch it commits."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Count, then commit."""
        self.batches.append(len(batch))
        return super().commit(batch)


def test_group_commit_shares_transactions_and_acks_every_message(engine: Engine) -> None:
    """Messages queued during a commit share the next transaction; every one gets its AA."""
    store = CountingStore(engine)
    replies: dict[int, Reply | None] = {}
    done = threading.Event()

    def call_from_thread(fn: object, *args: object) -> None:
        assert callable(fn)
        fn(*args)
        if len(replies) == 200:
            done.set()

    intake = GroupCommitIntake(pipeline(), store, call_from_thread, max_batch=100)
    for n in range(200):
        intake.handle(Inbound(oru(f"G{n}").encode(), "p", "lab", datetime.now(UTC))).addCallback(
            lambda r, n=n: replies.__setitem__(n, r)
        )
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
    ruled = Pipeline(channels={"lab": policy}, directory=PartnerDirectory.from_specs([LIS_CHUM]))
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
    import_specs(engine, [LIS_CHUM], "alice")
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
