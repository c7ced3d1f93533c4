"""PostgreSQL for the end-to-end bench, when it answers: a schema per hub, dropped at the end."""

from __future__ import annotations

import os
import time

PG_URL = os.environ.get("PASSERELLE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_PG_SCHEMAS: list[str] = []  # the schemas this run created


def pg_reachable() -> bool:
    """True when PostgreSQL answers at PG_URL."""
    try:
        from sqlalchemy import create_engine, text

        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def analyze(url: str) -> None:
    """ANALYZE the database at `url`, as autovacuum would within a minute of the warm-up."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def pg_schema() -> str:
    """A fresh schema, as the URL of a database whose search_path is that schema."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{time.time_ns()}"
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    _PG_SCHEMAS.append(schema)
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def drop_pg_schemas() -> None:
    """Drop the schemas this run created (a bench leaves nothing behind)."""
    from sqlalchemy import create_engine, text

    if not _PG_SCHEMAS:
        return
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        for schema in _PG_SCHEMAS:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()
    _PG_SCHEMAS.clear()
