"""The native load generator (bench/loadgen.c) against a tiny in-test MLLP server: its counts and control IDs."""

from __future__ import annotations

import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.messages import oru
from bench.native import PLACEHOLDER, build, oru_template, run

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on PATH")

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


@dataclass
class Peer:
    """What the server does with control IDs, and what it saw: (connection number, control ID, message)."""

    reject: set[str] = field(default_factory=set)  # answered AE
    close: set[str] = field(default_factory=set)  # the connection is closed instead of answered
    seen: list[tuple[int, str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0


class _Handler(socketserver.BaseRequestHandler):
    """One MLLP connection: each frame gets an ACK, AA unless its control ID is rejected."""

    server: _Server

    def handle(self) -> None:
        peer = self.server.peer
        with peer.lock:
            peer.connections += 1
            number = peer.connections
        buf = b""
        while True:
            while FS + CR not in buf:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                buf += chunk
            frame, _, buf = buf.partition(FS + CR)
            message = frame[frame.index(VT) + 1 :]
            cid = message.split(CR, 1)[0].split(b"|")[9].decode()  # MSH-10
            with peer.lock:
                peer.seen.append((number, cid, message))
            if cid in peer.close:
                return
            code = "AE" if cid in peer.reject else "AA"
            ack = f"MSH|^~\\&|HUB|QC|SIL|CHUM|20260101120000||ACK^R01^ACK|A{cid}|P|2.5.1\rMSA|{code}|{cid}\r"
            self.request.sendall(VT + ack.encode() + FS + CR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, peer: Peer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: a free one, no race
        self.peer = peer


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator, compiled once for the module."""
    return build(tmp_path_factory.mktemp("loadgen"))


@pytest.fixture
def peer() -> Iterator[tuple[Peer, int]]:
    """A running in-test MLLP server and its port."""
    state = Peer()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_counts_negative_acks_and_unique_control_ids(binary: Path, peer: tuple[Peer, int]) -> None:
    """3 x 30 measured after 5 warm-up each: AE counted, warm-up excluded, every control ID its own."""
    state, port = peer
    state.reject = {"T0-0", "T1-5", "T2-17", "T0-34"}  # T0-0 is a warm-up message: not counted
    template = oru_template()
    result = run(binary, port, connections=3, messages=90, template=template, warmup=5, prefix="T", timeout=30)

    assert (result["connections"], result["messages"], result["errors"]) == (3, 90, 0)
    assert result["negative"] == {"AE": 3}
    p50, p90, p99, top = result["p50_ms"], result["p90_ms"], result["p99_ms"], result["max_ms"]
    assert p50 is not None and p90 is not None and p99 is not None and top is not None
    assert 0 <= p50 <= p90 <= p99 <= top
    assert result["seconds"] > 0 and result["msg_per_s"] > 0 and result["client_cpu_us_per_msg"] >= 0

    ids = [cid for _, cid, _ in state.seen]
    assert len(ids) == 3 * 35 and len(set(ids)) == len(ids)
    by_conn: dict[int, set[str]] = {}
    for number, cid, _ in state.seen:
        by_conn.setdefault(number, set()).add(cid)
    assert sorted(len(s) for s in by_conn.values()) == [35, 35, 35]
    sets = list(by_conn.values())
    assert all(a.isdisjoint(b) for i, a in enumerate(sets) for b in sets[i + 1 :])
    # One connection's IDs share their connection part; each message is the template, filled in.
    assert all(len({cid.split("-")[0] for cid in s}) == 1 for s in sets)
    assert all(message == template.replace(PLACEHOLDER.encode(), cid.encode()) for _, cid, message in state.seen)


def test_a_closed_connection_is_one_error_and_the_thread_reconnects(binary: Path, peer: tuple[Peer, int]) -> None:
    """The server hangs up instead of answering one message: one error, the rest still sent on a new connection."""
    state, port = peer
    state.close = {"R1-12"}
    result = run(binary, port, connections=2, messages=40, template=oru_template(), warmup=2, prefix="R", timeout=30)
    assert (result["messages"], result["errors"], result["negative"]) == (39, 1, {})
    assert state.connections == 3 and len(state.seen) == 44


def test_the_template_is_the_bench_message_with_placeholders() -> None:
    """Filling the placeholder gives `oru(cid)`, but for PID-3 (the patient, fixed in the template)."""
    cid = "X12-345"
    filled = oru_template().replace(PLACEHOLDER.encode(), cid.encode()).split(CR)
    expected = oru(cid).split(CR)
    assert [s for s in filled if not s.startswith(b"PID")] == [s for s in expected if not s.startswith(b"PID")]
    assert oru_template().count(PLACEHOLDER.encode()) == 5


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--port", "1", "--messages", "10"],  # no template
        ["--port", "0", "--messages", "10", "--template", "t"],
        ["--port", "1", "--messages", "10", "--template", "t", "--connections", "zero"],
        ["--port", "1", "--messages", "10", "--template", "t", "--bogus", "1"],
        ["--port", "1", "--messages", "10", "--template"],
    ],
)
def test_bad_arguments_exit_2_with_a_usage_line(binary: Path, args: list[str]) -> None:
    """Bad or missing arguments: exit status 2, one usage line on stderr, nothing on stdout."""
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: loadgen") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""
