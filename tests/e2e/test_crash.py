"""SIGKILL the hub at random points under load, restart it, resend what got no ACK.

Invariants: every message that got AA is in the repository exactly once with the hash of what
was sent; no message that got AE is in it; the journal's hash chain verifies. The short form
runs in CI on SQLite and PostgreSQL; `make crash-test` runs 100,000 messages and 20 kills.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
from servers import ServerFactory
from sqlalchemy import create_engine, select

from hub.cli.client import MLLPClient, parse_ack
from hub.governance.journal import verify
from hub.store.db import make_engine
from hub.store.models import Message

pytestmark = pytest.mark.slow
MESSAGES = int(os.environ.get("PASSERELLE_CRASH_MESSAGES", "5000"))
KILLS = int(os.environ.get("PASSERELLE_CRASH_KILLS", "5"))
CONNECTIONS = 8
DEADLINE = float(os.environ.get("PASSERELLE_CRASH_SECONDS", "600"))


def message(n: int) -> bytes:
    """A distinct lab result per n; every 50th one breaks the rules (OBX-2 NM with text) and gets AE."""
    value = "pas un nombre" if n % 50 == 49 else f"{n % 10}.{n % 7}"
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|K{n}|P|2.5.1\r"
        f"PID|1||P{n % 500}^^^CHUM^MR||Test^Crash||19700101|F\r"
        + "|".join(["OBR", "1", "", f"F{n}^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + ["F"])
        + "\r"
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L|||||F\r"
    ).encode()


@dataclass
class Acked:
    """What the clients got back: MSA-1 per message number, shared by their threads."""

    codes: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, n: int, code: str) -> None:
        """Record the ACK code of message `n`."""
        with self.lock:
            self.codes[n] = code


def resending_client(port: int, ids: list[int], acked: Acked, stop: float) -> None:
    """Send each message until it gets an ACK, reconnecting whenever the hub is gone, until `stop`."""
    pending = list(ids)
    conn: MLLPClient | None = None
    while pending and time.monotonic() < stop:
        try:
            conn = conn or MLLPClient("127.0.0.1", port, timeout=5)
            n = pending[0]
            ack = parse_ack(conn.send(message(n)))
            acked.keep(n, ack.code)
            pending.pop(0)
        except OSError:
            if conn:
                conn.close()
            conn = None
            time.sleep(0.05)
    if conn:
        conn.close()


def assert_stored_once_as_sent(db_url: str, expected: dict[int, str]) -> None:
    """The AA'd messages are stored exactly once with the hash of what was sent; no other is stored."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Message.control_id, Message.sha256)).all()
    engine.dispose()
    stored = {r.control_id: r.sha256 for r in rows}
    assert len(rows) == len(stored), "a message is stored twice"
    accepted = [n for n, code in expected.items() if code == "AA"]
    assert set(stored) == {f"K{n}" for n in accepted}
    for n in accepted:
        assert stored[f"K{n}"] == hashlib.sha256(message(n)).hexdigest()


def test_kill_minus_nine_loses_no_acknowledged_message(db_url: str, server_factory: ServerFactory) -> None:
    """Clients resend what got no ACK; AA'd messages are stored once, AE'd ones never (SQLite and PG)."""
    server = server_factory(db_url, ruleset="tgv-lab-2026.1")
    port = server.port
    acked = Acked()
    stop = time.monotonic() + DEADLINE
    threads = [
        threading.Thread(target=resending_client, args=(port, list(range(c, MESSAGES, CONNECTIONS)), acked, stop))
        for c in range(CONNECTIONS)
    ]
    for t in threads:
        t.start()
    rng = random.Random(7)
    points = sorted(rng.sample(range(MESSAGES // 20, MESSAGES - MESSAGES // 20), KILLS))
    for point in points:  # kill at random points of the load
        while len(acked.codes) < point and time.monotonic() < stop:
            time.sleep(0.005)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server = server_factory(db_url, port=port, ruleset="tgv-lab-2026.1")
    for t in threads:
        t.join()
    assert len(acked.codes) == MESSAGES, "some messages never got an ACK before the deadline"
    expected = {n: ("AE" if n % 50 == 49 else "AA") for n in range(MESSAGES)}
    assert acked.codes == expected
    assert_stored_once_as_sent(db_url, expected)
    broken, count, _head = verify(make_engine(db_url))
    assert broken is None
    assert count >= MESSAGES
