"""Hostile peers, each while a well-behaved partner keeps sending: it is always answered AA.

Bounded: every case lasts a couple of seconds and cleans up. `make bench` reports the good
client's latency during each case; this test checks behaviour, not timings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from helpers import lab_message
from hostile import CASES, ENDLESS_LIMIT, ENDLESS_SENT, IDLE_OPENED, IDLE_READY, PeakRSS
from servers import Server, start_server

from hub.cli.client import MLLPClient, parse_ack

pytestmark = pytest.mark.slow
MAX_GROWTH_KIB = 16 * 1024  # measured: 2.2 MiB at most (1,000 idle connections); an uncut 64 MiB frame is far over


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A hub whose limits admit 1,000 idle connections from one address, frames capped at 64 KiB."""
    tmp = tmp_path_factory.mktemp("hostile")
    server = start_server(
        tmp,
        f"sqlite:///{tmp / 'h.db'}",
        max_connections=2000,
        max_connections_per_peer=1500,
        max_frame_bytes=65536,
        idle_timeout=30,
    )
    yield server
    server.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_good_partner_is_served_during(hub: Server, case: str) -> None:
    """While the hostile peer runs, 30 messages from the good partner all get AA; the hub survives.

    Its memory stays bounded: at its peak the hub holds at most MAX_GROWTH_KIB more than before
    the case (frames are capped at 64 KiB, a connection costs a few KiB), and an endless frame
    is cut at the cap instead of being buffered.
    """
    stop = threading.Event()
    attacker = threading.Thread(target=CASES[case], args=(hub.port, stop), daemon=True)
    with PeakRSS(hub.proc.pid) as rss:
        attacker.start()
        time.sleep(0.5)
        if case == "1000-idle-connections":
            assert IDLE_READY.wait(60)
            assert len(IDLE_OPENED) == 1000
        client = MLLPClient("127.0.0.1", hub.port, timeout=10)
        try:
            codes = [
                parse_ack(client.send(lab_message(f"H{n + 100 * list(CASES).index(case)}"))).code for n in range(30)
            ]
        finally:
            client.close()
            stop.set()
            attacker.join(10)
    assert codes == ["AA"] * 30
    assert hub.proc.poll() is None
    assert rss.peak - rss.before <= MAX_GROWTH_KIB, f"{case}: the hub grew by {rss.peak - rss.before} KiB"
    if case == "endless-frame":
        assert ENDLESS_SENT and ENDLESS_SENT[0] < ENDLESS_LIMIT, "the hub kept reading a frame over its cap"
