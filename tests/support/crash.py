"""The crash tests' traffic: distinct lab results, the ACKs they got, resending clients, the stored check."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import create_engine, select

from hub.cli.client import MLLPClient, parse_ack
from hub.store.models import Message


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


def resending_client(ports: list[int], ids: list[int], acked: Acked, stop: float) -> None:
    """Send each message until it gets an ACK, until `stop`; when a hub is gone, reconnect to the next port.

    With one port that is the same hub again once it restarts; with several, the partner fails
    over to another node, as it would behind a load balancer.
    """
    pending = list(ids)
    conn: MLLPClient | None = None
    turn = 0
    while pending and time.monotonic() < stop:
        try:
            conn = conn or MLLPClient("127.0.0.1", ports[turn % len(ports)], timeout=5)
            n = pending[0]
            ack = parse_ack(conn.send(message(n)))
            acked.keep(n, ack.code)
            pending.pop(0)
        except OSError:
            if conn:
                conn.close()
            conn = None
            turn += 1
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
