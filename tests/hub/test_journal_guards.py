"""The journal and the stored messages are append-only, and `journal verify` covers what it claims."""

from __future__ import annotations

import pytest
from fakes import ack_of
from guards import PG_GUARDS, SQLITE_GUARDS, lift_guards, triggers
from lab_engine import (
    LIS_CHUM,
    oru,
    pipeline,
    register,
    send,
)
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from hub.engine.intake import InlineIntake
from hub.engine.writer import SQLStore
from hub.governance.journal import verify
from hub.store.models import RegistryVersion


def _traffic(engine: Engine) -> None:
    intake = InlineIntake(pipeline(), SQLStore(engine))
    assert ack_of(send(intake, oru("G1").encode())).code == "AA"
    assert ack_of(send(intake, oru("").encode())).code == "AE"  # refused: its raw bytes are journaled


def test_every_append_only_trigger_exists_at_head(engine: Engine) -> None:
    """The migrations leave UPDATE and DELETE guards on journal and messages."""
    with engine.connect() as conn:
        names = triggers(conn)
    expected = PG_GUARDS if engine.dialect.name == "postgresql" else SQLITE_GUARDS
    assert set(expected) <= names


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal SET reason = 'x'",
        "DELETE FROM journal",
        "UPDATE messages SET ack_code = 'AE'",
        "DELETE FROM messages",
    ],
)
def test_journal_and_messages_refuse_changes(engine: Engine, statement: str) -> None:
    """Any client of the database is refused an UPDATE or DELETE on journal or messages."""
    _traffic(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_verify_hashes_the_stored_raw_bytes(engine: Engine) -> None:
    """Editing a refused attempt's kept bytes breaks its entry, even with its chained fields intact."""
    _traffic(engine)
    assert verify(engine)[0] is None
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE journal SET raw = :raw WHERE status = 'error'"), {"raw": b"MSH|edited"})
    broken, _count, _head = verify(engine)
    assert broken is not None and "raw bytes" in broken.problem


def test_verify_checks_the_message_an_entry_names(engine: Engine) -> None:
    """An edited message body is named, as is an entry pointing at a message with other bytes."""
    _traffic(engine)
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE messages SET raw = :raw"), {"raw": b"MSH|other"})
    broken, _count, _head = verify(engine)
    assert broken is not None and "raw bytes do not match" in broken.problem
    with engine.begin() as conn:
        conn.execute(text("UPDATE messages SET sha256 = :s"), {"s": "0" * 64})
    broken, _count, _head = verify(engine)
    assert broken is not None and "holds other bytes" in broken.problem


def test_verify_refuses_rows_outside_the_chain_and_reports_a_missing_head(engine: Engine) -> None:
    """A row with no sequence number is refused; a deleted head is reported, not a crash."""
    _traffic(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM journal_head"))
    broken, _count, _head = verify(engine)
    assert broken is not None and "head is missing" in broken.problem
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE journal SET seq = NULL WHERE status = 'error'"))
    broken, _count, _head = verify(engine)
    assert broken is not None and "no sequence number" in broken.problem


def test_every_registry_write_bumps_the_registry_version(engine: Engine) -> None:
    """Adding a partner, and changing its identities by hand, each move the version a hub compares."""

    def version() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(RegistryVersion.version)).scalar_one())

    before = version()
    register(engine, [LIS_CHUM])
    after_import = version()
    assert after_import > before
    with engine.begin() as conn:
        conn.execute(text("UPDATE partner_identities SET value = value || 'X' WHERE kind = 'msh'"))
    assert version() > after_import
