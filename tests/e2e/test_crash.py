"""SIGKILL the hub mid-load, restart it: every message that got AA is stored exactly once."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time

from sqlalchemy import create_engine, func, select

from hub.client import MLLPClient, parse_ack
from hub.models import Message

MESSAGES = 400
CONNECTIONS = 4


def message(n: int) -> bytes:
    """A distinct lab result per n."""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|K{n}|P|2.5.1\r"
        f"PID|1||P{n % 50}^^^CHUM^MR||Test^Crash||19700101|F\r"
        f"OBR|1||F{n}^LAB|2345-7^Glucose^LN|||20260101080000\r"
        f"OBX|1|NM|2345-7^Glucose^LN||{n % 10}.{n % 7}|mmol/L|||||F\r"
    ).encode()


def test_kill_minus_nine_loses_no_acknowledged_message(db_url: str, server_factory: object) -> None:
    """Clients resend what got no ACK; AA'd messages are stored once, with the hash sent (SQLite and PG)."""
    server = server_factory(db_url)  # type: ignore[operator]
    port = server.port
    acked: dict[int, str] = {}
    lock = threading.Lock()
    stop = time.monotonic() + 120

    def client(ids: list[int]) -> None:
        pending = list(ids)
        conn: MLLPClient | None = None
        while pending and time.monotonic() < stop:
            try:
                conn = conn or MLLPClient("127.0.0.1", port, timeout=5)
                n = pending[0]
                ack = parse_ack(conn.send(message(n)))
                with lock:
                    acked[n] = ack.code
                pending.pop(0)
            except OSError:
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn:
            conn.close()

    threads = [
        threading.Thread(target=client, args=(list(range(c, MESSAGES, CONNECTIONS)),)) for c in range(CONNECTIONS)
    ]
    for t in threads:
        t.start()
    rng = random.Random(7)
    for _ in range(2):  # two kills at random points of the load
        while len(acked) < rng.randint(40, MESSAGES // 2 - 20) and time.monotonic() < stop:
            time.sleep(0.01)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server = server_factory(db_url, port=port)  # type: ignore[operator]
    for t in threads:
        t.join()
    assert len(acked) == MESSAGES, "some messages never got an ACK"
    assert set(acked.values()) == {"AA"}
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Message.control_id, Message.sha256)).all()
        total = conn.execute(select(func.count()).select_from(Message)).scalar_one()
    engine.dispose()
    assert total == MESSAGES
    stored = {row.control_id: row.sha256 for row in rows}
    for n in range(MESSAGES):
        assert stored[f"K{n}"] == hashlib.sha256(message(n)).hexdigest()
