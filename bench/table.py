"""The tables `make bench` prints, from the figures the runs return (the same ones bench/results.json keeps)."""

from __future__ import annotations

import os
from typing import Any

Row = dict[str, Any]  # one row of a table, as bench/results.json keeps it (names to numbers and labels)
WIDTHS = {"conns": 5, "msg/s": 9, "p50 ms": 8, "p90 ms": 8, "p99 ms": 8, "AA/CA": 6, "x peer": 7}


def print_machine(machine: str, speed: tuple[float, float]) -> None:
    """The machine, and how fast it was before and after the runs."""
    print(f"\nPasserelle bench on {machine}")
    print(f"A 1,000,000-step empty Python loop took {speed[0]:.1f} ms before the runs and {speed[1]:.1f} ms after")
    print("(best of 5; this machine is shared, and that figure says how fast it was at the time)")


def print_micro(parse: dict[str, float], validation: dict[str, float]) -> None:
    """Parse and validation cost per message, ours beside hl7apy's and python-hl7's."""
    print(f"\nParse one {parse['bytes']}-byte ORU^R01 (µs per message, lower is better)")
    print(f"  {'ours: decode + parse + header':34} {parse['ours_parse_us']:10.1f}")
    print(f"  {'ours: the above + lab mapping':34} {parse['ours_parse_map_us']:10.1f}")
    print(f"  {'python-hl7 hl7.parse':34} {parse['python_hl7_us']:10.1f}")
    print(f"  {'hl7apy parse_message':34} {parse['hl7apy_us']:10.1f}")
    print("\nValidate one parsed 2 KB ORU^R01 (µs per message)")
    print(f"  {'ours: structure (hl7apy model)':34} {validation['ours_structure_us']:10.1f}")
    print(f"  {'ours: tgv-lab-2026.1 rule set':34} {validation['ours_ruleset_us']:10.1f}")
    print(f"  {'hl7apy strict Validator':34} {validation['hl7apy_strict_us']:10.1f}")


def print_big_parse(big: dict[str, float]) -> None:
    """Parse time of 1 MiB messages of the shapes that could cost more than linear time."""
    print("\nParse one 1 MiB message of each shape (ms, best of 3; the segment cap raised to let it in)")
    for name, ms in big.items():
        print(f"  {name:40} {ms:8.1f}")


def print_e2e(e2e: list[Row], per_run: int, steal: list[float]) -> None:
    """Each server at 1, 8 and 64 connections, its rate as a multiple of the peer's, both sides' CPU."""
    peer = {r["connections"]: r["msg_per_s"] for r in e2e if r["server"] == "python-hl7 asyncio"}
    rounds = e2e[0]["rounds"] if e2e else 0
    print(
        f"\nEnd to end over MLLP, native client (bench/loadgen.c), {per_run} messages per run, one outstanding"
        f" per connection; best of {rounds} rounds, every server back to back in each"
    )
    if steal:
        print(f"  (CPU stolen by the hypervisor during these runs: {steal[0]:.0f}% of the machine's time)")
    print(
        f"  {'server':24} " + " ".join(f"{h:>{w}}" for h, w in WIDTHS.items())
        + f" {'srv µs':>7} {'prep':>5} {'cmt':>5} {'cli µs':>7} {'errors':>6}"
    )  # fmt: skip
    for r in e2e:
        ratio = r["msg_per_s"] / peer[r["connections"]] if peer.get(r["connections"]) else 0.0
        phases = " ".join(f"{r[k]:5.0f}" if k in r else f"{'-':>5}" for k in ("prepare_us", "commit_us"))
        print(
            f"  {r['server']:24} {r['connections']:5d} {r['msg_per_s']:9.0f} {r['p50_ms']:8.2f} "
            f"{r['p90_ms']:8.2f} {r['p99_ms']:8.2f} {r['accepted']:6d} {ratio:7.2f} {r['cpu_us']:7.0f}"
            f" {phases} {r['client_cpu_us']:7.1f} {r['errors'] + r['negative']:6d}"
        )
    print("  srv µs: the server's CPU time (user + system, all its processes, warm-up included) per message;")
    print("  prep, cmt: of which our hub's writer threads spent preparing and committing (its own metrics);")
    print("  cli µs: the native client's, measured phase; errors: no answer, plus negative ACKs")


def _row(e2e: list[Row], server: str, connections: int) -> Row | None:
    return next((r for r in e2e if r["server"] == server and r["connections"] == connections), None)


def targets(e2e: list[Row]) -> list[tuple[str, str, float | None, bool | None]]:
    """(figure, target, measured, met) for the speed targets, from this run's rows."""

    def rate(server: str, connections: int) -> float | None:
        row = _row(e2e, server, connections)
        return row["msg_per_s"] if row else None

    hubs8 = [r for r in e2e if r["connections"] == 8 and r["server"].startswith("hub ")]
    pg8 = max((r["msg_per_s"] for r in hubs8 if "postgresql" in r["server"]), default=None)
    pg1 = max((r["msg_per_s"] for r in e2e if r["connections"] == 1 and "postgresql" in r["server"]), default=None)
    sqlite1 = max((r["msg_per_s"] for r in e2e if r["connections"] == 1 and "hub sqlite" in r["server"]), default=None)
    best8 = max(hubs8, key=lambda r: r["msg_per_s"], default=None)
    peer8 = rate("python-hl7 asyncio", 8)
    figures: list[tuple[str, str, float | None, float, bool]] = [
        ("msg/s at 8 connections, SQLite, 2 workers", ">= 2,500", rate("hub sqlite, 2 wkr", 8), 2500, True),
        ("msg/s at 8 connections, PostgreSQL", ">= 1,500", pg8, 1500, True),
        ("msg/s at 1 connection, SQLite", ">= 1,000", sqlite1, 1000, True),
        ("msg/s at 1 connection, PostgreSQL", ">= 500", pg1, 500, True),
        ("p99 ms at 8 connections (best hub)", "<= 20", best8["p99_ms"] if best8 else None, 20, False),
        ("x python-hl7 at 8 connections (best hub)", ">= 2.5",
         best8["msg_per_s"] / peer8 if best8 and peer8 else None, 2.5, True),
        ("hub CPU µs per message at 8 connections (best hub)", "<= 500", best8["cpu_us"] if best8 else None, 500,
         False),
    ]  # fmt: skip
    return [
        (name, goal, value, None if value is None else (value >= limit if higher else value <= limit))
        for name, goal, value, limit, higher in figures
    ]


def print_targets(e2e: list[Row]) -> None:
    """The speed targets, met or missed, from the end-to-end rows of this run."""
    print("\nTargets (this run, 2-core machine, durable and validated)")
    for name, goal, value, met in targets(e2e):
        # two decimals below 100: a ratio of 2.46 must not read as its target, 2.5
        shown = "–" if value is None else f"{value:,.2f}" if value < 100 else f"{value:,.1f}"
        verdict = "–" if met is None else ("met" if met else "MISSED")
        print(f"  {name:52} {goal:>9} {shown:>10}  {verdict}")


def print_domains(domains: list[Row], per_run: int) -> None:
    """Each domain and transport on one hub."""
    print(f"\nDomains and transports, one hub on SQLite, 8 connections, {per_run} messages each")
    print(f"  {'run':24} " + " ".join(f"{h:>{w}}" for h, w in WIDTHS.items() if h != "x peer"))
    for r in domains:
        print(
            f"  {r['run']:24} {r['connections']:5d} {r['msg_per_s']:9.0f} {r['p50_ms']:8.2f} "
            f"{r['p90_ms']:8.2f} {r['p99_ms']:8.2f} {r['accepted']:6d}"
        )


def print_hostile(hostile: list[Row]) -> None:
    """The good partner's latency, the hub's memory and the journal's growth, during each hostile case."""
    print("\nA good partner's latency while a hostile peer runs (one connection, 200 messages, SQLite)")
    print(
        f"  {'hostile peer':24} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x base':>7} {'AA/CA':>6} {'hub up':>7}"
        f" {'RSS KiB':>8} {'peak +':>7} {'conns':>6} {'journal':>8} {'/conn':>6} {'/s':>6}"
    )
    base = next((r["p99_ms"] for r in hostile if r["case"].startswith("none")), 0.0) or 1.0
    for r in hostile:
        conns, entries, seconds = r["attacker_connections"], r["journal_entries"], r["seconds"]
        print(
            f"  {r['case']:24} {r['msg_per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['p99_ms'] / base:7.2f} "
            f"{r['accepted']:6d} {'yes' if r['hub_alive'] else 'NO':>7} {r['rss_before_kib']:8d}"
            f" {r['rss_peak_kib'] - r['rss_before_kib']:7d} {conns:6d} {entries:8d}"
            f" {entries / max(conns, 1):6.2f} {entries / max(seconds, 1e-9):6.2f}"
        )
    print(
        "  x base: p99 over the baseline's; RSS KiB: the hub's before the case; peak +: its highest during the"
        " case, over that (every 10 ms);\n  conns: connections the attacker opened; journal: entries from its"
        " address; /conn and /s: per connection and per second of the case"
    )


def print_budget(e2e: list[Row], floor: list[dict[str, float]], target: float = 5000) -> None:
    """The CPU left per message at the 8-connection target, after the parts that are not the hub's code."""
    clients = [r["client_cpu_us"] for r in e2e if r["connections"] == 8 and r["server"].startswith("hub sqlite")]
    sqlite_cpu = next(r["sqlite_cpu_us"] for r in floor if r["batch"] == 8)
    if not clients:
        return
    cores = os.cpu_count() or 1
    budget = cores * 1e6 / target
    client = min(clients)
    left = budget - client - sqlite_cpu
    print(
        f"  {target:,.0f} msg/s on {cores} cores leaves {budget:.0f} µs of CPU per message in all; the load generator"
        f" took {client:.0f} and SQLite alone {sqlite_cpu:.0f} (batches of 8):"
    )
    print(f"  {left:.0f} µs left for framing, parsing, rules, mapping, rows and the journal together")
