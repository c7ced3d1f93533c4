"""PostgreSQL: a one-message transaction is two round trips, BEGIN with the reads, COMMIT with the writes.

Counted from libpq's own protocol trace of the writer's connection: every round trip of a
pipeline ends with one Sync message from the hub, answered by one ReadyForQuery.
"""

from __future__ import annotations

import tempfile
from typing import Any

import psycopg
from lab_engine import pipeline, send_accepted
from sqlalchemy import create_engine, text

from hub.engine.intake import InlineIntake
from hub.engine.writer import SQLStore
from hub.store.db import make_engine, upgrade


def _traced(raw: Any, action: Any) -> list[str]:
    """The protocol messages libpq sent and received while `action` ran: ("F" or "B", message type)."""
    with tempfile.TemporaryFile("w+") as trace:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            action()
        finally:
            raw.pgconn.untrace()
        trace.seek(0)
        return [" ".join(line.split("\t")[:3:2]) for line in trace.read().splitlines()]


def test_a_known_patients_message_commits_in_two_round_trips(pg_url: str) -> None:
    """BEGIN rides with the reads, COMMIT with the writes; the message is then committed for all to see."""
    engine = make_engine(pg_url)
    upgrade(engine)
    store = SQLStore(engine)
    intake = InlineIntake(pipeline(), store)
    try:
        for n in range(3):  # the patient is known from the first; psycopg has prepared the statements
            send_accepted(intake, f"TRIP{n}")
        raw = store._connection().connection.driver_connection
        messages = _traced(raw, lambda: send_accepted(intake, "TRIP9"))
    finally:
        engine.dispose()
    assert messages.count("F Sync") == 2
    assert messages.count("B ReadyForQuery") == 2
    assert "F Query" not in messages  # no simple-query BEGIN or COMMIT of psycopg's own either
    # The COMMIT went in the writes' round trip, and it took: another session sees the message.
    other = create_engine(pg_url)
    try:
        with other.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM messages WHERE control_id = 'TRIP9'")).scalar_one()
    finally:
        other.dispose()
    assert stored == 1
