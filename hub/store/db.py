"""Engines, durability settings and schema migrations (alembic, run from code)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(Exception):
    """The database schema can't be used as it is."""


def make_engine(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """An engine with the durability settings: SQLite WAL + synchronous=FULL, PG sync commit."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            private_file(Path(db))
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at BEGIN: the journal head read at the start of a
            # transaction can't go stale under another writer process.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_settings(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET synchronous_commit TO on")
            cur.close()
            dbapi_conn.commit()

    return engine


def private_file(path: Path) -> None:
    """Create `path` (and missing parent folders) readable by this user alone: 0600 and 0700.

    SQLite creates the database's -wal and -shm files with the database file's own mode, so
    they are private too. An existing file keeps its mode: the operator chose it.
    """
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        folder.mkdir(mode=0o700, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def private_folder(path: Path) -> None:
    """Create a folder (and missing parents) readable by this user alone (0700)."""
    for folder in [*(p for p in reversed(path.parents) if not p.exists()), path]:
        folder.mkdir(mode=0o700, exist_ok=True)


class WriterLock:
    """Hub writers of one SQLite file take turns through ``flock`` on a file beside it.

    SQLite's own busy handler polls: a writer that finds the database locked sleeps 1, 2, 5, 10
    … 100 ms before it tries again, whatever the other writer's transaction takes (about 1 ms
    here). Under ``serve --workers N`` that sleep, not the work, set the tail latency (p99 of
    102 ms at 8 connections). A writer blocked in ``flock`` wakes the moment the lock is let
    go, and the kernel lets it go if the holder dies. Writers outside the hub (the CLI, an
    import) still meet SQLite's busy handler, as before; the lock only orders the hub's own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()  # flock is per open file: threads of one process queue here

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for one transaction."""
        with self._mutex:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def writer_lock(engine: Engine) -> Callable[[], AbstractContextManager[None]]:
    """What the group-commit writer holds around each transaction: a `WriterLock` on SQLite files."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return WriterLock(Path(f"{url.database}-writer.lock")).held
    return contextlib.nullcontext


def _alembic(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this code."""
    head = ScriptDirectory.from_config(_alembic(create_engine("sqlite://"))).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has no schema."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_state(engine: Engine) -> str:
    """One of empty, current, outdated, or unknown (tables without alembic's stamp)."""
    rev = current_revision(engine)
    if rev is None:
        tables = set(inspect(engine).get_table_names())
        return "empty" if not tables else "unknown"
    return "current" if rev == head_revision() else "outdated"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    command.upgrade(_alembic(engine), "head")


def ensure_schema(engine: Engine) -> str:
    """What `serve` does: create on empty, refuse on outdated.

    Raises:
        SchemaError: the schema is outdated or not ours; the text names the fix.
    """
    state = schema_state(engine)
    if state == "empty":
        upgrade(engine)
        return "created"
    if state == "outdated":
        raise SchemaError("the database schema is outdated: run `passerelle db upgrade`")
    if state == "unknown":
        raise SchemaError("the database holds tables that are not Passerelle's (no alembic revision)")
    return "current"
