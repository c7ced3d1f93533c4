"""A good partner's latency on one connection while each hostile peer of tests/support/hostile.py runs."""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.messages import oru
from bench.processes import ROOT, start_hub, stop
from bench.table import Row

sys.path.insert(0, str(ROOT / "tests" / "support"))  # tests/support is not a package: on the path
from hostile import CASES, CONNECTIONS, IDLE_READY, PeakRSS, attack_from

from hub.cli.client import MLLPClient, parse_ack

BASELINE = "none (baseline)"
LIMITS = {"max_connections": 2000, "max_connections_per_peer": 1500, "max_frame_bytes": 65536, "frame_timeout": 2}


def _attacker_entries(db: Path, address: str) -> int:
    """Journal entries from the attacker's address so far."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM journal WHERE peer = ?", (address,)).fetchone()[0])


def _warm_up(port: int) -> None:
    """The first messages pay for compiling the structure checks: send them before measuring."""
    warm = MLLPClient("127.0.0.1", port, timeout=30)
    for n in range(20):
        warm.send(oru(f"HBWARM{n}x{time.time_ns()}"))
    warm.close()


def _start_attacker(case: str, port: int, stop_attack: threading.Event) -> threading.Thread | None:
    """The hostile peer of `case`, running (none for the baseline), given half a second to get going."""
    if case not in CASES:
        return None
    attacker = threading.Thread(target=CASES[case], args=(port, stop_attack), daemon=True)
    attacker.start()
    time.sleep(0.5)
    if case == "1000-idle-connections":
        IDLE_READY.wait(60)
    return attacker


def _one_case(proc: subprocess.Popen[bytes], port: int, case: str, messages: int, index: int, *, db: Path) -> Row:
    """`messages` from the good partner while `case` runs: its latencies, the hub's memory, the journal's growth."""
    address = f"127.0.0.{100 + index}"  # each case its own address, so its own refusal bucket
    attack_from(address)
    entries, connections = _attacker_entries(db, address), CONNECTIONS[0]
    stop_attack = threading.Event()
    rss = PeakRSS(proc.pid).start()  # the hub's memory, until the attacker is gone
    attacker = _start_attacker(case, port, stop_attack)
    client = MLLPClient("127.0.0.1", port, timeout=30)
    latencies, accepted = [], 0
    start = time.perf_counter()
    try:
        for n in range(messages):
            t0 = time.perf_counter()
            reply = client.send(oru(f"HB{index}x{n}x{time.time_ns()}"))
            latencies.append(time.perf_counter() - t0)
            accepted += parse_ack(reply).code in ("AA", "CA")
    finally:
        elapsed = time.perf_counter() - start
        client.close()
        stop_attack.set()
        if attacker is not None:
            attacker.join(15)
        rss.stop()
    time.sleep(0.3)  # the writer journals what the attacker sent last
    q = statistics.quantiles(latencies, n=100)
    return {
        "case": case,
        "messages": messages,
        "accepted": accepted,
        "msg_per_s": messages / elapsed,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": max(latencies) * 1e3,
        "hub_alive": proc.poll() is None,
        "rss_before_kib": rss.before,
        "rss_peak_kib": rss.peak,
        "seconds": elapsed,
        "attacker_connections": CONNECTIONS[0] - connections,
        "journal_entries": _attacker_entries(db, address) - entries,
    }


def hostile_bench(messages: int = 200) -> list[Row]:
    """A good partner's latency on one connection while each hostile peer runs (SQLite hub)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        db = Path(tmpdir) / "hostile.db"
        proc, port = start_hub(f"sqlite:///{db}", Path(tmpdir), **LIMITS)
        try:
            _warm_up(port)
            for case in [BASELINE, *CASES]:
                rows.append(_one_case(proc, port, case, messages, len(rows), db=db))
        finally:
            stop(proc)
    return rows
