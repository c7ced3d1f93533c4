"""`serve --workers 2`: two processes share the socket; dedupe and the journal hold across them."""

from __future__ import annotations

import threading
from typing import Any

from helpers import lab_message
from sqlalchemy import create_engine, func, select

from hub.client import MLLPClient, parse_ack
from hub.db import make_engine
from hub.journal import verify
from hub.models import JournalEntry, Message


def test_two_workers_share_the_load_dedupe_and_chain(db_url: str, server_factory: Any) -> None:
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
