"""`serve --workers 2`: two processes share the socket; dedupe and the journal hold across them."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from helpers import lab_message
from servers import ServerFactory
from sqlalchemy import create_engine, func, select

from hub.cli.client import MLLPClient, parse_ack
from hub.config import ChannelConfig
from hub.engine.workers import bind_all
from hub.governance.journal import verify
from hub.store.db import make_engine
from hub.store.models import JournalEntry, Message


@pytest.mark.slow
def test_two_workers_share_the_load_dedupe_and_chain(db_url: str, server_factory: ServerFactory) -> None:
    """8 clients, 200 messages, plus one message sent 16 times at once: stored once, same ACK, chain intact."""
    server = server_factory(db_url, workers=2, max_connections_per_peer=100)  # 24 clients from one address
    acks: dict[str, list[bytes]] = {}
    lock = threading.Lock()

    def client(ids: list[str]) -> None:
        conn = MLLPClient("127.0.0.1", server.port)
        try:
            for cid in ids:
                reply = conn.send(lab_message(cid))
                with lock:
                    acks.setdefault(cid, []).append(reply)
        finally:
            conn.close()

    jobs = [[f"W{n}" for n in range(c, 200, 8)] for c in range(8)] + [["SAME"] for _ in range(16)]
    threads = [threading.Thread(target=client, args=(ids,)) for ids in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(acks) == 201
    assert all(parse_ack(r).code == "AA" for replies in acks.values() for r in replies)
    assert len(acks["SAME"]) == 16
    assert len(set(acks["SAME"])) == 1  # every copy got the same stored ACK, byte for byte
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Message)).scalar_one() == 201
    engine.dispose()
    broken, count, _ = verify(make_engine(db_url))
    assert broken is None
    assert count >= 216
    with create_engine(db_url).connect() as conn:
        statuses = dict(conn.execute(select(JournalEntry.status, func.count()).group_by(JournalEntry.status)).all())
    assert (statuses["accepted"], statuses["duplicate"]) == (201, 15)


@pytest.mark.slow
def test_connections_are_spread_over_both_workers(tmp_path: Path, server_factory: ServerFactory) -> None:
    """16 connections opened at once land on both workers (each has its own SO_REUSEPORT socket)."""
    server = server_factory(f"sqlite:///{tmp_path / 'spread.db'}", workers=2, max_connections_per_peer=100)
    clients = [MLLPClient("127.0.0.1", server.port) for _ in range(16)]
    try:
        replies = [c.send(lab_message(f"S{n}")) for n, c in enumerate(clients)]
    finally:
        for c in clients:
            c.close()
    assert all(parse_ack(r).code == "AA" for r in replies)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    workers = {line.get("worker") for line in lines if line.get("event") == "message"}
    assert workers == {0, 1}  # hashing 16 connections onto one socket of two: 1 chance in 32,768


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    """SO_REUSEPORT must not let a second hub join a port someone else holds."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        channel = ChannelConfig.model_validate(
            {
                "name": "lab",
                "protocol": "mllp",
                "listen": f"tcp:{port}:interface=127.0.0.1",
                "domain": "lab",
                "ruleset": "none",
            }
        )
        with pytest.raises(OSError, match="in use"):
            bind_all([channel], 2)
