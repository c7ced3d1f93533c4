"""End to end: msg/s and latency of our hub beside python-hl7's peer, and per domain and transport."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.load import load
from bench.messages import oru, radiology, rde
from bench.pg import analyze, pg_reachable, pg_schema
from bench.processes import Started, cpu_ticks, start_domains_hub, start_hub, start_peer, stop, tree_cpu
from bench.table import Row

CONNECTIONS = (1, 8, 64)
STEAL: list[float] = []  # % of the machine's CPU time the hypervisor took during the end-to-end runs

Target = tuple[str, Callable[[], Started], str]  # (label, how to start it, its PostgreSQL URL or "")
Running = tuple[str, subprocess.Popen[bytes], int]  # (label, process, port)


def _targets(tmp: Path) -> list[Target]:
    """Our hub on SQLite (1 and 2 workers), on PostgreSQL when it answers, and the peer last."""
    targets: list[Target] = [
        ("passerelle sqlite", partial(start_hub, f"sqlite:///{tmp / 'bench1.db'}", tmp), ""),
        ("passerelle sqlite, 2 wkr", partial(start_hub, f"sqlite:///{tmp / 'bench2.db'}", tmp, workers=2), ""),
        ("python-hl7 peer", start_peer, ""),
    ]
    if pg_reachable():
        for workers, label in ((1, "passerelle postgresql"), (2, "passerelle pg, 2 wkr")):
            url = pg_schema()
            targets.insert(-1, (label, partial(start_hub, url, tmp, workers=workers), url))
    return targets


def _measure(name: str, server: subprocess.Popen[bytes], port: int, connections: int, per_run: int) -> dict[str, float]:
    """One run against one server: the load's figures, with the server's and the client's CPU per message."""
    tag = f"{name[:2]}{connections}x{time.time_ns()}"
    before, client = tree_cpu(server.pid), time.process_time()
    result = load(port, connections, per_run // connections, tag)
    result["cpu_us"] = (tree_cpu(server.pid) - before) / result["messages"] * 1e6
    result["client_cpu_us"] = (time.process_time() - client) / result["messages"] * 1e6
    return result


def _best_rounds(started: list[Running], per_run: int, rounds: int) -> dict[tuple[str, int], dict[str, float]]:
    """Each (server, connections) run `rounds` times, every server back to back; each keeps its best."""
    best: dict[tuple[str, int], dict[str, float]] = {}
    for _round in range(rounds):
        for connections in CONNECTIONS:
            for name, server, port in started:
                result = _measure(name, server, port, connections, per_run)
                key = (name, connections)
                if key not in best or result["msg_per_s"] > best[key]["msg_per_s"]:
                    best[key] = result
    return best


def e2e_bench(per_run: int, rounds: int = 2) -> list[Row]:
    """Our hub (SQLite, and PostgreSQL when reachable; 1 and 2 workers) beside the python-hl7 peer.

    Every server is started (and warmed up with 200 messages) first. Then, `rounds` times, for
    each connection count, every server runs back to back: the peer and the hubs are measured
    at the same moment of a shared machine, and each row keeps its best round (as the
    micro-benchmarks keep their best: the slower rounds measure the neighbours).

    On PostgreSQL the bench runs ANALYZE after the warm-up, as autovacuum does on a live
    database within a minute: a fresh schema has no statistics, and PostgreSQL would plan
    sequential scans for the writer's per-batch key lookups.
    """
    with tempfile.TemporaryDirectory() as tmpdir:
        started: list[Running] = []
        try:
            for name, starter, pg_url in _targets(Path(tmpdir)):
                proc, port = starter()
                started.append((name, proc, port))
                load(port, 1, 200, f"warm{time.time_ns()}")
                if pg_url:
                    analyze(pg_url)
            steal_start = cpu_ticks()
            best = _best_rounds(started, per_run, rounds)
            steal, total = (b - a for a, b in zip(steal_start, cpu_ticks(), strict=True))
            STEAL.append(100 * steal / total if total else 0.0)
        finally:
            for _name, proc, _port in started:
                stop(proc)
    return [
        {"server": name, "connections": c, "rounds": rounds, **best[(name, c)]}
        for name, _proc, _port in started
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
