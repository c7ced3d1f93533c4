"""End to end: msg/s, latency and CPU per message of every server, driven by the native load generator.

The servers: Twisted answering a canned ACK (the ceiling: the loopback and the reactor alone),
python-hl7's asyncio server (parse and ACK, nothing stored), and our durable hub on SQLite and
PostgreSQL with 1 and 2 workers. The client is bench/loadgen.c (bench/native.py): pthreads,
blocking sockets, one outstanding message per connection, a few µs of CPU per message.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import native
from bench.load import load
from bench.messages import oru, radiology, rde
from bench.pg import analyze, pg_reachable, pg_schema
from bench.processes import (
    ROOT,
    Started,
    cpu_ticks,
    free_port,
    start_domains_hub,
    start_hub,
    start_peer,
    stop,
    tree_cpu,
    wait_port,
    writer_cpu,
)
from bench.table import Row

CONNECTIONS = (1, 8, 64)
WARMUP = 5  # messages per connection before each measured run
STEAL: list[float] = []  # % of the machine's CPU time the hypervisor took during the end-to-end runs
PEER = "python-hl7 asyncio"
CEILING = "twisted canned ACK"

# (label, how to start it, its PostgreSQL URL or "", its metrics port or 0: our hub's only)
Target = tuple[str, Callable[[], Started], str, int]
Running = tuple[str, subprocess.Popen[bytes], int, int]  # (label, process, port, metrics port or 0)
_RUNS = itertools.count(1)  # each run's control-ID prefix: R1, R2, … (disjoint against one hub)


def start_canned() -> Started:
    """bench/canned.py as a subprocess."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.canned", str(port)], cwd=ROOT)
    wait_port(port, proc)
    return proc, port


def _hub(label: str, url: str, tmp: Path, workers: int) -> Target:
    metrics = free_port()
    return label, partial(start_hub, url, tmp, workers=workers, metrics_port=metrics), url, metrics


def _targets(tmp: Path) -> list[Target]:
    """The ceiling, the peer, then our hub on SQLite (1 and 2 workers) and PostgreSQL when it answers."""
    targets: list[Target] = [
        (CEILING, start_canned, "", 0),
        (PEER, start_peer, "", 0),
        _hub("hub sqlite, 1 wkr", f"sqlite:///{tmp / 'bench1.db'}", tmp, 1),
        _hub("hub sqlite, 2 wkr", f"sqlite:///{tmp / 'bench2.db'}", tmp, 2),
    ]
    if pg_reachable():
        for workers in (1, 2):
            targets.append(_hub(f"hub postgresql, {workers} wkr", pg_schema(), tmp, workers))
    return targets


def _measure(running: Running, connections: int, per_run: int, binary: Path) -> Row:
    """One run: the generator's figures, the server's CPU per message (warm-up included), the client's.

    For our hub, also its writers' CPU per message in each phase, from its own metrics.
    """
    _name, server, port, metrics = running
    before = tree_cpu(server.pid)
    phases = writer_cpu(metrics) if metrics else {}
    result = native.run(binary, port, connections, per_run, native.oru_template(), warmup=WARMUP,
                        prefix=f"R{next(_RUNS)}")  # fmt: skip
    served = result["messages"] + WARMUP * connections
    negative = sum(result["negative"].values())
    spent = writer_cpu(metrics) if metrics else {}
    per_message = {f"{phase}_us": (spent[phase] - phases.get(phase, 0.0)) / served * 1e6 for phase in spent}
    return {
        "msg_per_s": result["msg_per_s"], "p50_ms": result["p50_ms"] or 0.0, "p90_ms": result["p90_ms"] or 0.0,
        "p99_ms": result["p99_ms"] or 0.0, "max_ms": result["max_ms"] or 0.0, "messages": result["messages"],
        "accepted": result["messages"] - negative, "negative": negative, "errors": result["errors"],
        "cpu_us": (tree_cpu(server.pid) - before) / served * 1e6 if served else 0.0,
        "client_cpu_us": result["client_cpu_us_per_msg"], **per_message,
    }  # fmt: skip


def _best_rounds(started: list[Running], per_run: int, rounds: int, binary: Path) -> dict[tuple[str, int], Row]:
    """Each (server, connections) run `rounds` times, every server back to back; each keeps its best."""
    best: dict[tuple[str, int], Row] = {}
    for _round in range(rounds):
        for connections in CONNECTIONS:
            for running in started:
                result = _measure(running, connections, per_run, binary)
                key = (running[0], connections)
                if key not in best or result["msg_per_s"] > best[key]["msg_per_s"]:
                    best[key] = result
    return best


def e2e_bench(per_run: int, rounds: int = 2) -> list[Row]:
    """Every server at 1, 8 and 64 connections, side by side in one run, each keeping its best round.

    Every server is started and warmed up (200 messages) first. Then, `rounds` times, for each
    connection count, every server runs back to back: they are measured at the same moment of a
    shared machine, and each row keeps its best round (the slower rounds measure the neighbours).

    On PostgreSQL the bench runs ANALYZE after the warm-up, as autovacuum does on a live
    database within a minute: a fresh schema has no statistics, and PostgreSQL would plan
    sequential scans for the writer's per-batch key lookups.
    """
    binary = native.build()
    with tempfile.TemporaryDirectory() as tmpdir:
        started: list[Running] = []
        try:
            for name, starter, pg_url, metrics in _targets(Path(tmpdir)):
                proc, port = starter()
                started.append((name, proc, port, metrics))
                native.run(binary, port, 1, 200, native.oru_template(), warmup=0, prefix=f"W{len(started)}")
                if pg_url:
                    analyze(pg_url)
            steal_start = cpu_ticks()
            best = _best_rounds(started, per_run, rounds, binary)
            steal, total = (b - a for a, b in zip(steal_start, cpu_ticks(), strict=True))
            STEAL.append(100 * steal / total if total else 0.0)
        finally:
            for _name, proc, _port, _metrics in started:
                stop(proc)
    return [
        {"server": name, "connections": c, "rounds": rounds, **best[(name, c)]}
        for name, _proc, _port, _metrics in started
        for c in CONNECTIONS
    ]


def domain_bench(per_run: int) -> list[Row]:
    """msg/s per domain and per transport, 8 connections each, one hub, SQLite."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        proc, ports = start_domains_hub(Path(tmpdir))
        try:
            runs = [
                ("lab ORU^R01, MLLP", ports["lab"], oru, False),
                ("pharmacy RDE^O11, MLLP", ports["pharmacy"], rde, False),
                ("imaging ORU^R01, MLLP", ports["imaging"], radiology, False),
                ("lab ORU^R01, SOAP", ports["soap"], oru, True),
            ]
            for name, port, make, soap in runs:
                tag = f"d{len(rows)}x{time.time_ns()}"
                rows.append({"run": name, "connections": 8, **load(port, 8, per_run // 8, tag, make=make, soap=soap)})
        finally:
            stop(proc)
    return rows
