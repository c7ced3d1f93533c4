"""The console's message browser on a journal of 1,000,000 entries: each search's p50 and p99.

The journal is filled in the database itself (a recursive CTE on SQLite, generate_series on
PostgreSQL): four channels, 95% accepted, 3% rejected with ERR-3 codes, 1% refused, 1% in
conflict or error, a unique control ID each, spread over 30 days. One patient (CHUM P-BENCH) has
20 stored messages among them. Each search is the console's own query (hub/console/pages.py
`search`, with the patient resolved by hub/console/patients.py `find`), first page of 50, run 30
times after 3 warm-ups.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.pg import pg_reachable, pg_schema
from hub.console.pages import search
from hub.console.patients import find
from hub.store.db import make_engine, upgrade
from hub.store.models import Message, Patient, PatientIdentifier

ENTRIES = 1_000_000
_CASE = (
    "CASE WHEN x % 100 < 95 THEN 'accepted' WHEN x % 100 < 98 THEN 'rejected' WHEN x % 100 = 98 THEN 'refused' "
    "WHEN x % 200 = 99 THEN 'conflict' ELSE 'error' END"
)
_COLUMNS = (
    "seq, at, status, channel, peer, sha256, size, sending_application, sending_facility, control_id, "
    "message_type, ack_code, codes, reason, partner_id, decision, operator, prev_hash, hash, raw_sha256, detail, "
    "message_id"
)
PATIENT_MESSAGES = 20  # stored messages of the one patient, every ENTRIES // 20th entry


def _values(x: str, start: str) -> str:
    """The SELECT list of one synthetic entry numbered `x`."""
    return (
        f"{x}, {start}, {_CASE.replace('x', x)}, "
        f"CASE {x} % 4 WHEN 0 THEN 'lab' WHEN 1 THEN 'pharmacy' WHEN 2 THEN 'imaging' ELSE 'soap' END, "
        f"'10.0.0.1', 'ab', 1000, CASE {x} % 10 WHEN 0 THEN 'RIS' ELSE 'SIL' END, 'CHUM', 'C' || {x}, 'ORU^R01', "
        f"CASE WHEN {x} % 100 < 95 THEN 'AA' WHEN {x} % 100 < 98 THEN 'AE' ELSE 'AR' END, "
        f"CASE WHEN {x} % 100 BETWEEN 95 AND 97 THEN CASE {x} % 3 WHEN 0 THEN '103' WHEN 1 THEN '101,104' ELSE '102' "
        "END ELSE '' END, '', '', '', '', '', '', '', '', "
        f"CASE WHEN {x} % {ENTRIES // PATIENT_MESSAGES} = 0 THEN {x} / {ENTRIES // PATIENT_MESSAGES} ELSE NULL END"
    )


def _patient(conn: Any, first: datetime) -> None:
    """One patient and their stored messages, which the journal's every 50,000th entry names."""
    conn.execute(insert(Patient).values(id=1, created_at=first, updated_at=first))
    conn.execute(insert(PatientIdentifier).values(patient_id=1, authority="CHUM", value="P-BENCH", type_code="MR"))
    conn.execute(insert(Message), [
        {"id": n, "channel": "lab", "peer": "10.0.0.1", "sending_application": "SIL", "sending_facility": "CHUM",
         "control_id": f"P{n}", "message_type": "ORU^R01", "version": "2.5.1", "charset": "utf-8", "sha256": "ab",
         "raw": b"MSH", "ack": b"MSA|AA", "ack_code": "AA", "patient_id": 1, "received_at": first, "stored_at": first}
        for n in range(1, PATIENT_MESSAGES + 1)
    ])  # fmt: skip


def _fill(engine: Any, backend: str) -> None:
    first = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as conn:
        _patient(conn, first)
        if backend == "sqlite":
            start = f"datetime('{first:%Y-%m-%d %H:%M:%S}', '+' || (x * 2) || ' seconds')"
            conn.execute(text(
                f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {ENTRIES}) "
                f"INSERT INTO journal ({_COLUMNS}) SELECT {_values('x', start)} FROM c"
            ))  # fmt: skip
        else:
            start = f"TIMESTAMPTZ '{first.isoformat()}' + x * INTERVAL '2 seconds'"
            conn.execute(text(
                f"INSERT INTO journal ({_COLUMNS}) SELECT {_values('x', start)} FROM generate_series(1, {ENTRIES}) x"
            ))  # fmt: skip
            conn.execute(text("ANALYZE journal"))


SEARCHES: dict[str, dict[str, str]] = {
    "control ID": {"control_id": "C777777"},
    "status conflict (rare)": {"status": "conflict"},
    "channel + ACK AE": {"channel": "imaging", "ack_code": "AE"},
    "ERR-3 code 104": {"code": "104"},
    "ERR-3 code 205 (none: a scan)": {"code": "205"},
    "sender RIS, one day": {"sender": "RIS", "since": "", "until": ""},
    "no filter, page 2": {},
    "patient CHUM:P-BENCH": {"patient": "CHUM:P-BENCH"},
}


def _timed(engine: Any, filters: dict[str, str], before: int | None) -> float:
    start = time.perf_counter()
    with engine.connect() as conn:
        chosen = find(conn, filters["patient"]) if filters.get("patient") else None
        rows, _ = search(conn, filters, before, chosen)
    assert rows or not filters.get("patient"), "the patient search found nothing"
    return (time.perf_counter() - start) * 1000


def browse_bench(runs: int = 30) -> list[dict[str, Any]]:
    """p50 and p99 per search and backend."""
    rows = []
    day = (datetime.now(UTC) - timedelta(days=10)).date()
    SEARCHES["sender RIS, one day"] |= {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", f"sqlite:///{Path(tmp) / 'browse.db'}")]
        if pg_reachable():
            backends.append(("postgresql", pg_schema()))
        for backend, url in backends:
            engine = make_engine(url)
            upgrade(engine)
            _fill(engine, backend)
            for name, filters in SEARCHES.items():
                before = ENTRIES - 49 if not filters else None
                for _ in range(3):
                    _timed(engine, filters, before)
                times = sorted(_timed(engine, filters, before) for _ in range(runs))
                rows.append({"backend": backend, "search": name, "p50_ms": times[runs // 2],
                             "p99_ms": times[min(runs - 1, int(runs * 0.99))]})  # fmt: skip
            engine.dispose()
    return rows


def print_browse(rows: list[dict[str, Any]]) -> None:
    """The table."""
    print(f"\nConsole message browser: one page of 50 from a journal of {ENTRIES:,} entries (ms, 30 runs)")
    print(f"  {'backend':11} {'search':30} {'p50':>7} {'p99':>7}")
    for r in rows:
        print(f"  {r['backend']:11} {r['search']:30} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f}")


if __name__ == "__main__":
    print_browse(browse_bench())
