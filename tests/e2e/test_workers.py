"""`serve --workers 2`: two processes take turns on one socket; dedupe and the journal hold across them."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import lab_message
from servers import Server, ServerFactory
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


def _log(server: Server) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_connections_are_split_evenly_between_the_workers(tmp_path: Path, server_factory: ServerFactory) -> None:
    """16 connections opened at once from one address: each worker takes 8 (the least loaded accepts).

    The kernel's SO_REUSEPORT hash split 8 connections 2+6 or 1+7 as often as 4+4; a split of 16
    exactly in half is what balancing gives every time.
    """
    server = server_factory(f"sqlite:///{tmp_path / 'spread.db'}", workers=2, max_connections_per_peer=100)
    deadline = time.monotonic() + 30
    while {line.get("worker") for line in _log(server) if line.get("event") == "listening"} != {0, 1}:
        assert time.monotonic() < deadline, "both workers should listen"
        time.sleep(0.1)
    clients = [MLLPClient("127.0.0.1", server.port) for _ in range(16)]
    try:
        replies = [c.send(lab_message(f"S{n}")) for n, c in enumerate(clients)]
    finally:
        for c in clients:
            c.close()
    assert all(parse_ack(r).code == "AA" for r in replies)
    served = Counter(line.get("worker") for line in _log(server) if line.get("event") == "message")
    assert served == {0: 8, 1: 8}


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    """The workers' shared socket is bound once: a port someone else holds fails before any worker starts."""
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
            bind_all([channel])
