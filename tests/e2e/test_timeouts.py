"""A writer stuck behind a lock answers AR 207 within its timeout, then recovers: through a real hub."""

from __future__ import annotations

import fcntl
import os

import pytest
from helpers import lab_message
from servers import ServerFactory
from sqlalchemy import create_engine, text

from hub.cli.client import MLLPClient, parse_ack

pytestmark = pytest.mark.slow


def _code(port: int, cid: str) -> str:
    client = MLLPClient("127.0.0.1", port, timeout=10)
    try:
        return parse_ack(client.send(lab_message(cid))).code
    finally:
        client.close()


def test_sqlite_writer_lock_held_elsewhere_answers_ar_then_recovers(server_factory: ServerFactory) -> None:
    """Another writer holds the hub writers' lock: AR 207 after busy_timeout_ms, AA once it lets go."""
    server = server_factory(busy_timeout_ms=300)
    assert _code(server.port, "K0") == "AA"
    db = server.db_url.removeprefix("sqlite:///")
    fd = os.open(f"{db}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert _code(server.port, "K1") == "AR"
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert _code(server.port, "K2") == "AA"


def test_postgresql_lock_held_elsewhere_answers_ar_then_recovers(server_factory: ServerFactory, pg_url: str) -> None:
    """A session holds the journal head: lock_timeout_ms passes, AR 207; the next message is AA."""
    server = server_factory(db_url=pg_url, database={"lock_timeout_ms": 300})
    assert _code(server.port, "P0") == "AA"
    engine = create_engine(pg_url.replace("postgresql+psycopg", "postgresql+psycopg", 1))
    with engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("SELECT seq FROM journal_head WHERE id = 1 FOR UPDATE"))
        try:
            assert _code(server.port, "P1") == "AR"
        finally:
            tx.rollback()
    engine.dispose()
    assert _code(server.port, "P2") == "AA"
