"""PostgreSQL: the writer finds rows by their index whatever the tables' statistics say, planned once.

PostgreSQL keeps a prepared statement's generic plan, made with the statistics of its time. A
schema that was never analyzed (autovacuum off, or not yet run) has plans made on empty tables:
sequential scans, kept while the tables grow. A statement PostgreSQL judges better served by a
custom plan is planned again at every execution instead.
"""

from __future__ import annotations

import time
from typing import Any

from lab_engine import pipeline, send_accepted
from sqlalchemy import create_engine, text

from hub.engine.intake import InlineIntake
from hub.engine.writer import SQLStore
from hub.store.db import make_engine, upgrade

# What the writer reads or checks by key on every intake transaction.
LOOKED_UP = ("messages", "patients", "patient_identifiers", "lab_orders", "lab_observations", "journal_head")


def _scans(url: str) -> dict[str, tuple[int, int]]:
    """(sequential scans, index scans) per table of the schema, as PostgreSQL counted them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema()"
                )
            )
            return {name: (int(seq), int(idx)) for name, seq, idx in rows}
    finally:
        engine.dispose()


def _settled(url: str) -> dict[str, tuple[int, int]]:
    """The counters once the backends that ended have reported theirs (they report as they exit)."""
    time.sleep(0.5)
    last, now = _scans(url), {}
    for _ in range(50):
        time.sleep(0.3)
        now = _scans(url)
        if now == last:
            return now
        last = now
    return now


def test_postgresql_writer_plans_each_statement_once(pg_url: str) -> None:
    """Thirty messages: every statement the writer prepared ran on its generic plan, none was planned again."""
    engine = make_engine(pg_url)
    upgrade(engine)
    store = SQLStore(engine)
    intake = InlineIntake(pipeline(), store)
    try:
        for n in range(30):
            send_accepted(intake, f"ONCE{n}")
        # pg_prepared_statements is the session's own: asked on the writer's connection.
        raw: Any = store._connection().connection.driver_connection
        rows = raw.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements").fetchall()
        raw.rollback()
    finally:
        engine.dispose()
    assert len(rows) >= 5, "psycopg prepared fewer statements than the writer runs"
    assert all(generic > 0 for _statement, generic, _custom in rows)
    replanned = {statement[:60]: custom for statement, _generic, custom in rows if custom}
    assert replanned == {}


def test_postgresql_writer_scans_no_table_whole_on_a_schema_never_analyzed(pg_url: str) -> None:
    """Thirty messages, past every plan cache's threshold: no table the writer reads is scanned whole."""
    migrating = make_engine(pg_url)
    upgrade(migrating)  # the migrations scan tables themselves: counted before, not after
    migrating.dispose()
    before = _settled(pg_url)
    engine = make_engine(pg_url)
    intake = InlineIntake(pipeline(), SQLStore(engine))
    # Past psycopg's prepare threshold (5) and PostgreSQL's five custom plans: generic plans now.
    for n in range(30):
        send_accepted(intake, f"PLAN{n}")
    engine.dispose()  # the writer's backend ends and reports its counters
    deadline = time.monotonic() + 20
    after = _scans(pg_url)
    while after["lab_observations"][1] == before["lab_observations"][1] and time.monotonic() < deadline:
        time.sleep(0.2)
        after = _scans(pg_url)
    assert after["lab_observations"][1] > before["lab_observations"][1], "no index scan counted: counters not reported"
    whole = {t: after[t][0] - before[t][0] for t in LOOKED_UP if after[t][0] != before[t][0]}
    assert whole == {}
