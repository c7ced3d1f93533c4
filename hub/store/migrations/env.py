"""Alembic environment: the engine comes from `hub.store.db`, never from an ini file.

On SQLite a migration that rebuilds a table (batch mode: copy, drop, rename) runs with foreign
key enforcement off, as SQLite's documentation prescribes for ALTER TABLE: dropping the old copy
of a table other rows point to would otherwise fail. The PRAGMA only takes effect outside a
transaction, so it is set on the raw connection before the migration's BEGIN, and every
reference is checked (`PRAGMA foreign_key_check`) before the migration commits.
"""

from __future__ import annotations

from alembic import context

from hub.store.models import Base

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    raw = connection.connection.driver_connection
    if sqlite:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration would leave {len(broken)} broken reference(s)")
    finally:
        if sqlite:
            raw.execute("PRAGMA foreign_keys=ON")
