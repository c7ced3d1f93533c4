"""Migration 0006 brings an existing repository into the registers without losing or rescoping anyone."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, text

from hub.store.db import _alembic, make_engine, upgrade
from hub.store.queries import find_patients, patient_record


def _at_0005(db_url: str) -> Engine:
    engine = make_engine(db_url)
    command.upgrade(_alembic(engine), "0005")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patients (id, family, given, birth_date, sex, created_at, updated_at) "
                "VALUES (1, 'Lavoie', 'Hélène', '1954-12-31', 'F', :now, :now)"
            ),
            {"now": now},
        )
        for value, authority in (("123", "CHUM"), ("555", "")):
            conn.execute(
                text(
                    "INSERT INTO patient_identifiers (patient_id, value, type_code, authority, authority_oid, is_nam) "
                    "VALUES (1, :v, 'MR', :a, '', false)"
                ),
                {"v": value, "a": authority},
            )
    return engine


def test_existing_patients_keep_their_identifiers_and_get_a_first_version(db_url: str) -> None:
    """Identifiers stay under the authority they were stored under (an empty one included); v1 is today's."""
    engine = _at_0005(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        pairs = conn.execute(text("SELECT authority, value FROM patient_identifiers ORDER BY value")).all()
        versions = conn.execute(text("SELECT patient_id, version, family FROM patient_versions")).all()
        (merged,) = conn.execute(text("SELECT merged_into FROM patients")).one()
    assert [tuple(p) for p in pairs] == [("CHUM", "123"), ("", "555")]
    assert [tuple(v) for v in versions] == [(1, 1, "Lavoie")]
    assert merged is None
    assert find_patients(engine, "CHUM:123") == [1]
    record = patient_record(engine, 1)
    assert (record["patient"]["version"], record["patient"]["history"][0]["family"]) == (1, "Lavoie")
    engine.dispose()
