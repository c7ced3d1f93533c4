"""Two hubs on one PostgreSQL, as two machines would run them: SIGKILL either under load, nothing is lost.

Each hub has its own configuration file and `serve` process; they share the database and so the
journal's one chain. Partners fail over to the other node when theirs is gone and resend what got
no ACK. Invariants: every AA'd message is stored exactly once with the hash of what was sent (the
other node's dedupe answers a resend of a message the first one committed), no AE'd one is, and
the journal verifies as one chain. The short form runs in CI; PASSERELLE_CRASH_MESSAGES and
PASSERELLE_CRASH_KILLS make it longer.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest
from crash import Acked, assert_stored_once_as_sent, resending_client
from servers import Server, ServerFactory, free_port

from hub.governance.journal import verify
from hub.store.db import make_engine

pytestmark = pytest.mark.slow
MESSAGES = int(os.environ.get("PASSERELLE_CRASH_MESSAGES", "3000"))
KILLS = int(os.environ.get("PASSERELLE_CRASH_KILLS", "4"))
CONNECTIONS = 8
DEADLINE = float(os.environ.get("PASSERELLE_CRASH_SECONDS", "600"))


def test_killing_either_of_two_hubs_on_one_database_loses_nothing(pg_url: str, server_factory: ServerFactory) -> None:
    """Clients spread over both nodes; each kill takes one down, its partners fail over, it restarts."""
    ports = [free_port(), free_port()]
    hubs: list[Server] = [server_factory(pg_url, port=p, ruleset="tgv-lab-2026.1") for p in ports]
    acked = Acked()
    stop = time.monotonic() + DEADLINE
    threads = [  # half the partners start on each node
        threading.Thread(
            target=resending_client,
            args=(ports[c % 2 :] + ports[: c % 2], list(range(c, MESSAGES, CONNECTIONS)), acked, stop),
        )
        for c in range(CONNECTIONS)
    ]
    for t in threads:
        t.start()
    rng = random.Random(11)
    points = sorted(rng.sample(range(MESSAGES // 20, MESSAGES - MESSAGES // 20), KILLS))
    for k, point in enumerate(points):
        while len(acked.codes) < point and time.monotonic() < stop:
            time.sleep(0.005)
        victim = k % 2  # either node, in turn
        os.kill(hubs[victim].proc.pid, signal.SIGKILL)
        hubs[victim].proc.wait()
        hubs[victim] = server_factory(pg_url, port=ports[victim], ruleset="tgv-lab-2026.1")
    for t in threads:
        t.join()
    assert len(acked.codes) == MESSAGES, "some messages never got an ACK before the deadline"
    expected = {n: ("AE" if n % 50 == 49 else "AA") for n in range(MESSAGES)}
    assert acked.codes == expected
    assert_stored_once_as_sent(pg_url, expected)
    broken, count, _head = verify(make_engine(pg_url))
    assert broken is None, broken
    assert count >= MESSAGES
