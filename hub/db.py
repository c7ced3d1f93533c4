"""Engines, durability settings and schema migrations (alembic, run from code)."""

from __future__ import annotations

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
            Path(db).parent.mkdir(parents=True, exist_ok=True)
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
