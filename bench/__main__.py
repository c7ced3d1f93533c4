"""Run the benchmarks and print a table; write bench/results.json.

Parse cost per 2 KB ORU^R01 for our parser, hl7apy and python-hl7; then end-to-end msg/s,
latency percentiles and CPU per message, driven by a native client (bench/loadgen.c), for a
Twisted server answering a canned ACK (the ceiling), python-hl7's asyncio MLLP server (parse +
ACK, nothing stored) and our durable hub (SQLite WAL FULL, and PostgreSQL when reachable; 1 and 2
workers), with 1, 8 and 64 connections, each with one message outstanding, as MLLP requires;
then the targets, met or missed.

The parts: bench/micro.py (parse, validation), bench/e2e.py (end to end, domains),
bench/consult.py (Patient/$everything over the FHIR channel), bench/browse.py (the console's
message browser on 1,000,000 journal entries), bench/hostile_peers.py,
bench/floor.py (where the time goes), bench/table.py (what is printed).
"""

from __future__ import annotations

import json
import os
import platform
import time

from bench.browse import browse_bench, print_browse
from bench.consult import consult_bench, print_consult
from bench.e2e import STEAL, domain_bench, e2e_bench
from bench.floor import floor_bench, print_floor
from bench.hostile_peers import hostile_bench
from bench.micro import big_parse_bench, loop_ms, parse_bench, validation_bench
from bench.pg import drop_pg_schemas
from bench.processes import ROOT
from bench.table import (
    print_big_parse,
    print_budget,
    print_domains,
    print_e2e,
    print_hostile,
    print_machine,
    print_micro,
    print_targets,
    targets,
)


def main() -> None:
    """Run everything, print the table, write bench/results.json."""
    per_run = int(os.environ.get("BENCH_MESSAGES", "2000"))
    speed_before = loop_ms()
    parse = parse_bench()
    validation = validation_bench()
    big = big_parse_bench()
    try:
        e2e = e2e_bench(per_run, int(os.environ.get("BENCH_ROUNDS", "2")))
    finally:
        drop_pg_schemas()
    domains = domain_bench(per_run)
    try:
        consultation = consult_bench()
        browse = browse_bench()
    finally:
        drop_pg_schemas()
    hostile = hostile_bench()
    floor = floor_bench()
    speed = (speed_before, loop_ms())
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print_machine(machine, speed)
    print_micro(parse, validation)
    print_big_parse(big)
    print_e2e(e2e, per_run, STEAL)
    print_domains(domains, per_run)
    print_consult(consultation)
    print_browse(browse)
    print_hostile(hostile)
    print_floor(floor)
    print_budget(e2e, floor)
    print_targets(e2e)
    out = {
        "machine": machine,
        "steal_percent": STEAL[0] if STEAL else None,
        "loop_ms_before_after": speed,
        "domains": domains,
        "consultation": consultation,
        "browse": browse,
        "hostile": hostile,
        "parse": parse,
        "validation": validation,
        "big_parse_ms": big,
        "e2e": e2e,
        "targets": [{"figure": f, "target": t, "measured": v, "met": m} for f, t, v, m in targets(e2e)],
        "floor": floor,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
