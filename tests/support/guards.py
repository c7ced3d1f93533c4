"""The database's append-only guards, as a test names them, and how the database's owner lifts them.

Tampering tests play the owner of the database: they lift the guards first, then edit, and
check that `journal verify` still names what was done.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY = ("journal", "messages")
SQLITE_GUARDS = tuple(f"{table}_no_{op}" for table in APPEND_ONLY for op in ("update", "delete"))
PG_GUARDS = tuple(f"{table}_{kind}" for table in APPEND_ONLY for kind in ("append_only", "no_truncate"))


def triggers(conn: Connection) -> set[str]:
    """The names of the triggers the database holds."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
    else:
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    return {row[0] for row in rows}


def lift_guards(conn: Connection) -> None:
    """Drop the append-only triggers on journal and messages, as the database's owner could."""
    if conn.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        for name in SQLITE_GUARDS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
