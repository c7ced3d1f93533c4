"""Engines, durability settings and schema migrations (alembic, run from code)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the hub waits on its database before an attempt fails (AR 207) and it goes on.

    PostgreSQL: `connect_s` (connect_timeout), `statement_ms` and `lock_ms` (statement_timeout
    and lock_timeout, 0 for none), TCP keepalives after `keepalive_idle_s` of silence (then every
    10 s, 3 probes), so a dead server or a half-open connection is noticed. SQLite: `busy_ms`, for
    SQLite's own lock and for the hub writers' lock beside the database file.
    """

    busy_ms: int = 5000
    connect_s: int = 10
    statement_ms: int = 0
    lock_ms: int = 0
    keepalive_idle_s: int = 30


def make_engine(url: str, busy_timeout_ms: int = 5000, timeouts: Timeouts | None = None) -> Engine:
    """An engine with the durability settings: SQLite WAL + synchronous=FULL, PG sync commit."""
    limits = timeouts or Timeouts(busy_ms=busy_timeout_ms)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, limits.busy_ms)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": limits.connect_s,
            "keepalives": 1,
            "keepalives_idle": limits.keepalive_idle_s,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            # after the URL's own options (a search_path, say), which connect_args would replace
            "options": f"{_url_options(parsed)} -c statement_timeout={limits.statement_ms}"
            f" -c lock_timeout={limits.lock_ms}".strip(),
        }
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_settings(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET synchronous_commit TO on")
            cur.close()
            dbapi_conn.commit()

    return engine


def _sqlite_engine(url: str, db: str | None, busy_timeout_ms: int) -> Engine:
    """SQLite in WAL mode, synchronous=FULL, foreign keys on, transactions that BEGIN IMMEDIATE."""
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


def _url_options(url: Any) -> str:
    """The libpq `options` the URL itself carries, or ""."""
    value = url.query.get("options", "")
    return " ".join(value) if isinstance(value, tuple) else str(value)


class WriterLock:
    """Hub writers of one SQLite file take turns through ``flock`` on a file beside it.

    SQLite's own busy handler polls: a writer that finds the database locked sleeps 1, 2, 5, 10
    … 100 ms before it tries again, whatever the other writer's transaction takes (about 1 ms
    here). A writer that finds this lock taken blocks in ``flock`` until the kernel hands it
    over, the moment the holder lets go or dies: no sleep between tries, which under ``serve
    --workers 2`` cost a quarter of the throughput (docs/design.md). The blocking call runs in
    one thread kept for the lock's life, on a descriptor of its own, so the writer can give up
    past the busy timeout (TimeoutError: the batch gets AR 207) and a stuck writer elsewhere
    can't stall it; a wait given up releases the lock as soon as it gets it. Writers outside the
    hub (the CLI, an import) still meet SQLite's busy handler; the lock only orders the hub's own.
    """

    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None  # this writer's descriptor for the uncontended case
        self._waiter: _Waiter | None = None  # started at the first wait
        self._mutex = threading.Lock()  # flock is per open file: threads of one process queue here

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for one transaction; TimeoutError past `timeout_s` (the batch gets AR 207)."""
        deadline = time.monotonic() + self.timeout_s
        if not self._mutex.acquire(timeout=self.timeout_s):
            raise TimeoutError(f"writer lock not taken in {self.timeout_s} s")
        try:
            release = self._take(deadline)
            try:
                yield
            finally:
                release()
        finally:
            self._mutex.release()

    def _take(self, deadline: float) -> Callable[[], None]:
        """Take the lock (this writer's own descriptor when free, else the waiter's); how to let it go."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fd = self._fd
            return lambda: fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            pass
        if self._waiter is None:
            self._waiter = _Waiter(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        if self._waiter.acquire(deadline - time.monotonic()):
            return self._waiter.release
        raise TimeoutError(f"writer lock not taken in {self.timeout_s} s")


class _Waiter:
    """A thread that blocks in ``flock`` on its own descriptor whenever its writer asks.

    One wait at a time, for the life of the lock: a writer that gives up leaves the wait
    running, marked unwanted, and the thread lets the lock go the moment it gets it; the next
    writer to ask takes that same wait over. A thread started per wait cost about 4% of a
    worker's samples under ``serve --workers 2`` (docs/design.md).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._cond = threading.Condition()
        self._blocking = False  # the thread is in flock, or about to be
        self._granted = False  # the thread holds the lock for its writer
        self._wanted = False  # a writer waits for the lock now
        threading.Thread(target=self._run, name="passerelle-writer-lock", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._blocking:
                    self._cond.wait()
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # the GIL is let go while the kernel holds us
            with self._cond:
                self._blocking = False
                if self._wanted:
                    self._granted = True
                    self._cond.notify_all()
                else:  # given up meanwhile
                    fcntl.flock(self.fd, fcntl.LOCK_UN)

    def acquire(self, timeout: float) -> bool:
        """True once the lock is held through `fd`; False past `timeout` (the wait is left to let it go)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._wanted = True
            if not self._blocking and not self._granted:
                self._blocking = True
                self._cond.notify_all()
            while not self._granted:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._wanted = False
                    return False
                self._cond.wait(left)
            return True

    def release(self) -> None:
        """Let go of a lock `acquire` granted."""
        with self._cond:
            self._granted = self._wanted = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def writer_lock(engine: Engine, timeout_s: float = 5.0) -> Callable[[], AbstractContextManager[None]]:
    """What the group-commit writer holds around each transaction: a `WriterLock` on SQLite files."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return WriterLock(Path(f"{url.database}-writer.lock"), timeout_s).held
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
