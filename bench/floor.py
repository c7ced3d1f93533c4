"""Where a message's time goes, in-process, and the floor the database alone sets.

`make bench` runs this after the end-to-end table (also `python -m bench.floor`). In one
process, on a fresh SQLite database (WAL, synchronous=FULL, as the hub runs it):

1. prepare: the engine's steps 1-5 and the ACK (`Pipeline.prepare`), µs of CPU per message,
   twice: in a row (one message after another, nothing committed between them), and as the
   writer thread runs it, each batch prepared and then committed. The second is the one that
   counts: a commit's SQLite and kernel work evicts what preparing keeps in the core's caches;
2. commit: the store's transaction (`SQLStore.commit`) at 1, 8 and 64 messages per batch, µs per
   message, wall and CPU, each batch committed right after it was prepared;
3. SQLite alone: every statement those transactions ran, with the very same parameters,
   recorded on the driver's cursor and replayed by sqlite3 on a copy of the database as it was
   before them, each batch in BEGIN IMMEDIATE ... COMMIT. No Python work is left but the loop:
   this is what the repository's rows cost SQLite itself, whatever language the hub is in;
4. fsync of 4 KiB on the same disk, which every durable commit waits for at least once.

From these it prints the ceilings: one connection has one message outstanding, so one
message per transaction, and cannot go faster than 1 / (SQLite alone at batch 1); writers take
turns on SQLite (one write lock), so no number of workers goes past 1 / (SQLite's CPU per
message) at a given batch size.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import yaml

from bench.messages import LAB_PARTNER, ORGANIZATIONS, oru

if TYPE_CHECKING:  # the hub's modules are imported where used: `python -m bench` starts fast
    from sqlalchemy import Connection, Engine

    from hub.engine.pipeline import Pipeline
    from hub.engine.writer import SQLStore
    from hub.interfaces import Inbound

BATCHES = (1, 8, 64)
# The journal indexes the console's browser needs (migrations 0009, 0011): what they cost each write.
CONSOLE_INDEXES = (
    "ix_journal_control_id", "ix_journal_status_id", "ix_journal_ack_code_id", "ix_journal_at", "ix_journal_message_id",
)  # fmt: skip
PER_BATCH_SIZE = 1024  # messages per measured run


class _Recorder:
    """The driver's cursor, keeping every statement and its parameters."""

    def __init__(self, cursor: Any, log: list[tuple[str, str, Any]]) -> None:
        self._cursor = cursor
        self._log = log

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._log.append(("one", sql, list(params)))
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        rows = list(rows)
        self._log.append(("many", sql, rows))
        return self._cursor.executemany(sql, rows)

    def fetchall(self) -> Any:
        return self._cursor.fetchall()


def _hub(tmp: Path) -> tuple[Pipeline, SQLStore, Engine, str]:
    """A pipeline and a store on a fresh SQLite database, with the bench's sender approved."""
    from hub.config import load
    from hub.engine.service import build_pipeline, import_config_partners
    from hub.engine.writer import SQLStore
    from hub.governance.directory import PartnerDirectory
    from hub.logs import configure
    from hub.store.db import ensure_schema, make_engine

    path = tmp / "floor.db"
    config = {
        "database": {"url": f"sqlite:///{path}"},
        "logging": {"level": "warning"},
        "channels": [
            {
                "name": "lab",
                "protocol": "mllp",
                "listen": "tcp:0:interface=127.0.0.1",
                "domain": "lab",
                "ruleset": "tgv-lab-2026.1",
            }
        ],
        "organizations": ORGANIZATIONS,
        "partners": [LAB_PARTNER],
    }
    (tmp / "floor.yaml").write_text(yaml.safe_dump(config))
    cfg = load(tmp / "floor.yaml")
    configure(cfg.logging.level)  # as `serve` does: warnings and worse, on stderr, not amid the table
    engine = make_engine(cfg.database.url, cfg.database.busy_timeout_ms)
    ensure_schema(engine)
    import_config_partners(engine, cfg)
    directory = PartnerDirectory()
    directory.refresh(engine)
    return build_pipeline(cfg, directory), SQLStore(engine, directory=directory), engine, str(path)


def _inbound(n: int) -> Iterator[Inbound]:
    from hub.interfaces import Inbound

    now = datetime.now(UTC)
    for i in range(n):
        yield Inbound(raw=oru(f"FLOOR{i}"), peer="127.0.0.1", channel="lab", received_at=now)


def _replay(path: str, batches: list[list[tuple[str, str, Any]]]) -> tuple[float, float]:
    """Seconds of wall and CPU time for sqlite3 to run the recorded batches again."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    cur = conn.cursor()
    wall, cpu = time.perf_counter(), time.process_time()
    for statements in batches:
        cur.execute("BEGIN IMMEDIATE")
        for kind, sql, params in statements:
            if kind == "one":
                cur.execute(sql, params)
                cur.fetchall()
            else:
                cur.executemany(sql, params)
        cur.execute("COMMIT")
    out = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return out


def _counts(path: str) -> dict[str, int]:
    """Rows per table."""
    with sqlite3.connect(path) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _fsync_us(directory: Path, n: int = 200) -> float:
    """Median µs of fsync after a 4 KiB write, on the disk the database is on."""
    fd = os.open(directory / "fsync.probe", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        times = []
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return sorted(times)[n // 2] * 1e6


def _recorded_commits(
    pipeline: Pipeline, store: SQLStore, inbound: list[Inbound], batch: int
) -> tuple[list[list[tuple[str, str, Any]]], float, tuple[float, float]]:
    """Prepare and commit `inbound` batch by batch, as the writer thread does, every statement recorded.

    Returns the statements per batch, the CPU seconds of preparing, and the (wall, CPU)
    seconds of committing.
    """
    from hub.engine import writer
    from hub.store.driver import Driver

    recorded: list[list[tuple[str, str, Any]]] = []

    def recording(conn: Connection) -> Driver:  # Driver is compiled: wrapped, not subclassed
        driver = Driver(conn)
        recorded.append([])
        driver.cursor = _Recorder(driver.cursor, recorded[-1])
        return driver

    prepare = wall = cpu = 0.0
    with mock.patch.object(writer, "Driver", recording):
        for i in range(0, len(inbound), batch):
            started = time.process_time()
            prepared = [pipeline.prepare(p) for p in inbound[i : i + batch]]
            committing, prepared_at = time.perf_counter(), time.process_time()
            store.commit(prepared)
            wall += time.perf_counter() - committing
            cpu += time.process_time() - prepared_at
            prepare += prepared_at - started
    return recorded, prepare, (wall, cpu)


def _run(batch: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="passerelle-floor-") as name:
        tmp = Path(name)
        pipeline, store, engine, path = _hub(tmp)
        inbound = list(_inbound(2 * messages + 64))
        for p in inbound[2 * messages :]:  # warm up on other control IDs: caches, statement cache
            pipeline.prepare(p)
        start = time.process_time()  # prepare alone, one message after another, never committed
        for p in inbound[messages : 2 * messages]:
            pipeline.prepare(p)
        in_a_row_us = (time.process_time() - start) / messages * 1e6
        before = str(tmp / "before.db")  # the database as the measured transactions found it
        with sqlite3.connect(path) as src, sqlite3.connect(before) as dst:
            src.backup(dst)
        recorded, prepare, commit = _recorded_commits(pipeline, store, inbound[:messages], batch)
        engine.dispose()
        bare = str(tmp / "bare.db")  # the same, without the console's five journal indexes
        with sqlite3.connect(before) as src, sqlite3.connect(bare) as dst:
            src.backup(dst)
        with sqlite3.connect(bare) as conn:
            for index in CONSOLE_INDEXES:
                conn.execute(f'DROP INDEX "{index}"')
        alone = _replay(before, recorded)
        alone_bare = _replay(bare, recorded)
        if _counts(before) != _counts(path):  # the replay must have written everything the hub did
            raise RuntimeError("the replayed database differs from the hub's: a statement was not recorded")
        return {
            "batch": batch,
            "prepare_cpu_us": prepare / messages * 1e6,
            "prepare_alone_cpu_us": in_a_row_us,
            "commit_wall_us": commit[0] / messages * 1e6,
            "commit_cpu_us": commit[1] / messages * 1e6,
            "sqlite_wall_us": alone[0] / messages * 1e6,
            "sqlite_cpu_us": alone[1] / messages * 1e6,
            "sqlite_bare_cpu_us": alone_bare[1] / messages * 1e6,
            "statements_per_batch": sum(len(s) for s in recorded) / len(recorded),
            "fsync_us": _fsync_us(tmp),
        }


def floor_bench(messages: int = PER_BATCH_SIZE, rounds: int = 3) -> list[dict[str, float]]:
    """`rounds` runs per batch size, each on its own fresh database; each figure is its best round.

    The best, as the other benchmarks keep theirs: a floor should not measure the neighbours,
    and the ceilings drawn from it are then the most generous this machine gave.
    """
    out = []
    for batch in BATCHES:
        runs = [_run(batch, messages) for _ in range(rounds)]
        out.append({key: min(r[key] for r in runs) for key in runs[0]})
    return out


def print_floor(rows: list[dict[str, float]]) -> None:
    """The table and the ceilings it implies."""
    print("\nWhere the time goes, in one process (SQLite WAL FULL; µs per message; the 2 KB ORU)")
    head = ("batch", "in a row", "prepare", "commit", "commit cpu", "SQLite alone", "its cpu", "w/o 5 idx", "stmts",
            "fsync")  # fmt: skip
    print("  " + " ".join(f"{h:>12}" for h in head))
    for r in rows:
        print(
            f"  {r['batch']:12.0f} {r['prepare_alone_cpu_us']:12.0f} {r['prepare_cpu_us']:12.0f}"
            f" {r['commit_wall_us']:12.0f} {r['commit_cpu_us']:12.0f}"
            f" {r['sqlite_wall_us']:12.0f} {r['sqlite_cpu_us']:12.0f} {r['sqlite_bare_cpu_us']:12.0f}"
            f" {r['statements_per_batch']:12.1f}"
            f" {r['fsync_us']:12.0f}"
        )
    print("  in a row: prepare's CPU with one message prepared after another and none committed;")
    print("  prepare, commit: each batch prepared, then committed, as the writer thread does (bench/floor.py);")
    print("  SQLite alone: the same statements and parameters replayed by sqlite3, nothing else;")
    print("  w/o 5 idx: its CPU once the console's five journal indexes are dropped (what they cost intake)")
    by = {int(r["batch"]): r for r in rows}
    one, eight = by[1], by[8]
    print(
        f"  Ceilings from SQLite alone: 1 connection (one message per transaction) "
        f"{1e6 / one['sqlite_wall_us']:,.0f} msg/s; any number of writers at batches of 8 "
        f"{1e6 / eight['sqlite_cpu_us']:,.0f} msg/s, with nothing else on that core"
    )


def main() -> None:
    """`python -m bench.floor`: the floor table alone (about 30 s)."""
    print_floor(floor_bench())


if __name__ == "__main__":
    main()
