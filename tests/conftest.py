"""Shared fixtures: a repository on SQLite (and PostgreSQL when reachable), and real servers.

The helpers behind them live in tests/support (servers, vendor_traffic), where the tests
import their types from.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers
from servers import Server, ServerFactory, start_server
from sqlalchemy import Engine, create_engine, text
from vendor_traffic import TrafficMaker, vendor_message, vendor_traffic

from hub.store.db import make_engine, upgrade

PG_URL = os.environ.get("PASSERELLE_TEST_PG", "")


def _pg_reachable() -> bool:
    if not PG_URL:
        return False
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.hookimpl(tryfirst=True)  # before the fixtures of the test are set up, module-scoped ones included
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tell `servers.start_server` whether this test may start a server: only tests marked slow may."""
    servers.SLOW_TEST = item.get_closest_marker("slow") is not None


BACKENDS = ["sqlite"] + (["postgresql"] if _pg_reachable() else [])


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    """A private PostgreSQL schema for one test, dropped afterwards over a fresh connection."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    admin = create_engine(PG_URL, pool_pre_ping=True)  # a test may have restarted the server
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A private PostgreSQL schema, for tests that exist only for PostgreSQL."""
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL is not reachable (CI sets PASSERELLE_TEST_PG and starts it)")
    yield from _pg_schema()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database."""
    eng = make_engine(db_url, busy_timeout_ms=2000)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for a whole test module (SQLite, short busy timeout, 64 KiB frames)."""
    tmp = tmp_path_factory.mktemp("hub")
    srv = start_server(tmp, f"sqlite:///{tmp / 'hub.db'}", busy_timeout_ms=300, max_frame_bytes=65536)
    yield srv
    srv.stop()


@pytest.fixture
def server_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on demand; all are stopped at the end of the test.

    A test's `db_url` is set up first, so its servers stop before its PostgreSQL schema is dropped.
    """
    if "db_url" in request.fixturenames:
        request.getfixturevalue("db_url")
    started: list[Server] = []

    def make(db_url: str | None = None, port: int | None = None, workers: int = 1, **options: object) -> Server:
        url = db_url or f"sqlite:///{tmp_path / 'hub.db'}"
        srv = start_server(tmp_path, url, port, workers, **options)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def traffic_maker() -> TrafficMaker:
    """Build certification traffic (LAB-01 to LAB-06) for the tgv-lab plan."""
    return TrafficMaker(vendor_message, vendor_traffic)
