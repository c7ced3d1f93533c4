"""SIGKILL the hub at random points under load, restart it, resend what got no ACK.

Invariants: every message that got AA is in the repository exactly once with the hash of what
was sent; no message that got AE is in it; the journal's hash chain verifies. The short form
runs in CI on SQLite and PostgreSQL; `make crash-test` runs 100,000 messages and 20 kills.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest
from crash import Acked, assert_stored_once_as_sent, resending_client
from servers import ServerFactory

from hub.governance.journal import verify
from hub.store.db import make_engine

pytestmark = pytest.mark.slow
MESSAGES = int(os.environ.get("PASSERELLE_CRASH_MESSAGES", "5000"))
KILLS = int(os.environ.get("PASSERELLE_CRASH_KILLS", "5"))
CONNECTIONS = 8
DEADLINE = float(os.environ.get("PASSERELLE_CRASH_SECONDS", "600"))


def test_kill_minus_nine_loses_no_acknowledged_message(db_url: str, server_factory: ServerFactory) -> None:
    """Clients resend what got no ACK; AA'd messages are stored once, AE'd ones never (SQLite and PG)."""
    server = server_factory(db_url, ruleset="tgv-lab-2026.1")
    port = server.port
    acked = Acked()
    stop = time.monotonic() + DEADLINE
    threads = [
        threading.Thread(target=resending_client, args=([port], list(range(c, MESSAGES, CONNECTIONS)), acked, stop))
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
