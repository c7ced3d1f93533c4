"""Hostile MLLP peers, shared by tests/e2e/test_hostile.py (behaviour) and `make bench` (latency).

Each runs against a port until `stop` is set, and cleans up after itself. `PeakRSS` samples
the hub's memory while one runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

VT = b"\x0b"
HL7_START = b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|H0|P|2.5.1\r"


# The attackers connect from their own loopback address: per-peer limits and refusal buckets
# count by address, and the good partner (127.0.0.1) must not share the attacker's.
ATTACKER = "127.0.0.66"


CONNECTIONS = [0]  # connections the attackers opened (or tried to), for journal growth per connection
_ADDRESS = [ATTACKER]  # the address attackers connect from now


def attack_from(address: str) -> None:
    """Connect from `address` from now on (a fresh refusal bucket: the bench gives each case its own)."""
    _ADDRESS[0] = address


def _connect(port: int, timeout: float | None = None) -> socket.socket:
    """A connection to the hub from the attacker's address."""
    CONNECTIONS[0] += 1
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(_ADDRESS[0], 0))


EMPTY_FLOOD = b"\x0b\x1c\r" * (65536 // 3)  # one 64 KiB read of about 21,000 empty frames


def empty_frame_flood(port: int, stop: threading.Event) -> None:
    """64 KiB of empty frames per connection, again and again (the hub blocks the address)."""
    while not stop.is_set():
        try:
            with _connect(port, timeout=2) as s:
                s.sendall(EMPTY_FLOOD)
                while s.recv(65536):
                    pass
        except OSError:
            time.sleep(0.01)


def slowloris(port: int, stop: threading.Event) -> None:
    """Frames that dribble in, 10 bytes a second, on a new connection each time the hub cuts one."""
    while not stop.is_set():
        try:
            with _connect(port) as s:
                for byte in VT + HL7_START * 100:
                    if stop.is_set():
                        return
                    s.send(bytes([byte]))
                    time.sleep(0.1)
        except OSError:
            time.sleep(0.05)  # cut at the frame deadline: start again


def unterminated(port: int, stop: threading.Event) -> None:
    """A frame that never ends, held open."""
    with _connect(port) as s:
        s.sendall(VT + b"MSH|^~\\&|" + b"x" * 30_000)
        stop.wait()


def oversize(port: int, stop: threading.Event) -> None:
    """Frames over the cap, again and again (each closes its connection)."""
    while not stop.is_set():
        try:
            with _connect(port) as s:
                s.sendall(VT + b"x" * 200_000)
                s.recv(10)
        except OSError:
            pass


ENDLESS_LIMIT = 64 * 1024 * 1024  # what the endless frame gives up at if the hub never cuts it
ENDLESS_SENT: list[int] = []  # bytes the endless frame got into the hub before it was cut


def endless(port: int, stop: threading.Event) -> None:
    """One frame that never ends, streamed as fast as the hub reads it, until the hub hangs up."""
    ENDLESS_SENT.clear()
    sent = 0
    chunk = b"x" * 65536
    with _connect(port) as s:
        try:
            s.sendall(VT + HL7_START)
            while sent < ENDLESS_LIMIT and not stop.is_set():
                sent += s.send(chunk)
        except OSError:
            pass  # the hub closed the connection: what the case is for
    ENDLESS_SENT.append(sent)


IDLE_OPENED: list[socket.socket] = []
IDLE_READY = threading.Event()


def idle_thousand(port: int, stop: threading.Event) -> None:
    """1,000 connections that say nothing (opened in bursts the listen backlog can take)."""
    IDLE_OPENED.clear()
    IDLE_READY.clear()
    for n in range(1000):
        for _attempt in range(50):
            try:
                IDLE_OPENED.append(_connect(port, timeout=5))
                break
            except OSError:
                time.sleep(0.05)
        if n % 50 == 49:
            time.sleep(0.01)
    IDLE_READY.set()
    stop.wait()
    for s in IDLE_OPENED:
        s.close()
    IDLE_OPENED.clear()


def http_and_tls(port: int, stop: threading.Event) -> None:
    """HTTP requests and a TLS ClientHello on the MLLP port."""
    hello = bytes.fromhex("16030100a5010000a10303") + b"\x00" * 32 + b"\x00\x00\x02\x13\x01\x01\x00"
    while not stop.is_set():
        for junk in (b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n", hello):
            try:
                with _connect(port) as s:
                    s.sendall(junk)
                    s.recv(10)
            except OSError:
                pass


def connect_flood(port: int, stop: threading.Event) -> None:
    """Connect and close as fast as possible."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            _connect(port).close()


CASES: dict[str, Callable[[int, threading.Event], None]] = {
    "empty-frame-flood": empty_frame_flood,
    "slowloris": slowloris,
    "unterminated-frame": unterminated,
    "oversize-frames": oversize,
    "1000-idle-connections": idle_thousand,
    "http-and-tls-bytes": http_and_tls,
    "connect-close-flood": connect_flood,
    "endless-frame": endless,
}


def rss_kib(pid: int) -> int:
    """VmRSS of a process, KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class PeakRSS:
    """A process's RSS before, at its peak during (sampled every 10 ms), and after a `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = self.after = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid))

    def start(self) -> PeakRSS:
        """Take the before figure and start sampling."""
        self.before = self.peak = rss_kib(self.pid)
        self._sampler.start()
        return self

    def stop(self) -> None:
        """Stop sampling and take the after figure."""
        self._done.set()
        self._sampler.join()
        self.after = rss_kib(self.pid)
        self.peak = max(self.peak, self.after)

    def __enter__(self) -> PeakRSS:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
