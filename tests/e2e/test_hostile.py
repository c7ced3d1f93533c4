"""Hostile peers, each while a well-behaved partner keeps sending: it is always answered AA.

Bounded: every case lasts a couple of seconds and cleans up. `make bench` reports the good
client's latency during each case; this test checks behaviour, not timings.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import lab_message

from hub.client import MLLPClient, parse_ack

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


@pytest.fixture(scope="module")
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A hub whose limits admit 1,000 idle connections from one address, frames capped at 64 KiB."""
    start_server = request.getfixturevalue("start_server_fn")
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


def slowloris(port: int, stop: threading.Event) -> None:
    """A frame that dribbles in, 10 bytes a second."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        for byte in VT + lab_message("H0"):
            if stop.is_set():
                return
            s.send(bytes([byte]))
            time.sleep(0.1)


def unterminated(port: int, stop: threading.Event) -> None:
    """A frame that never ends, held open."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(VT + b"MSH|^~\\&|" + b"x" * 30_000)
        stop.wait()


def oversize(port: int, stop: threading.Event) -> None:
    """Frames over the cap, again and again (each closes its connection)."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(VT + b"x" * 200_000)
                s.recv(10)
        except OSError:
            pass


IDLE_OPENED: list[socket.socket] = []
IDLE_READY = threading.Event()


def idle_thousand(port: int, stop: threading.Event) -> None:
    """1,000 connections that say nothing (opened in bursts the listen backlog can take)."""
    for n in range(1000):
        for _attempt in range(50):
            try:
                IDLE_OPENED.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                break
            except OSError:
                time.sleep(0.05)
        if n % 50 == 49:
            time.sleep(0.01)
    IDLE_READY.set()
    stop.wait()
    for s in IDLE_OPENED:
        s.close()


def http_and_tls(port: int, stop: threading.Event) -> None:
    """HTTP requests and a TLS ClientHello on the MLLP port."""
    hello = bytes.fromhex("16030100a5010000a10303") + b"\x00" * 32 + b"\x00\x00\x02\x13\x01\x01\x00"
    while not stop.is_set():
        for junk in (b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n", hello):
            try:
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(junk)
                    s.recv(10)
            except OSError:
                pass


def connect_flood(port: int, stop: threading.Event) -> None:
    """Connect and close as fast as possible."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port)).close()


CASES: dict[str, Callable[[int, threading.Event], None]] = {
    "slowloris": slowloris,
    "unterminated-frame": unterminated,
    "oversize-frames": oversize,
    "1000-idle-connections": idle_thousand,
    "http-and-tls-bytes": http_and_tls,
    "connect-close-flood": connect_flood,
}


@pytest.mark.parametrize("case", list(CASES))
def test_good_partner_is_served_during(hub: Any, case: str) -> None:
    """While the hostile peer runs, 30 messages from the good partner all get AA; the hub survives."""
    stop = threading.Event()
    attacker = threading.Thread(target=CASES[case], args=(hub.port, stop), daemon=True)
    attacker.start()
    time.sleep(0.5)
    if case == "1000-idle-connections":
        assert IDLE_READY.wait(60)
        assert len(IDLE_OPENED) == 1000
    client = MLLPClient("127.0.0.1", hub.port, timeout=10)
    try:
        codes = [parse_ack(client.send(lab_message(f"H{n + 100 * list(CASES).index(case)}"))).code for n in range(30)]
    finally:
        client.close()
        stop.set()
        attacker.join(10)
    assert codes == ["AA"] * 30
    assert hub.proc.poll() is None
