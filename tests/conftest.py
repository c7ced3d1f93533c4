"""Shared fixtures: a repository on SQLite (and PostgreSQL when reachable), and a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from hub.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
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


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `passerelle serve` subprocess and how to reach it."""

    port: int
    config: Path
    db_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# The partners of the default config.yaml: the example traffic, LIS/CHUM included.
DEFAULT_PARTNERS = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["partners"]


def write_config(
    path: Path,
    db_url: str,
    port: int,
    *,
    busy_timeout_ms: int = 5000,
    partners: list[dict[str, object]] | None = None,
    security: dict[str, object] | None = None,
    extra_channels: list[dict[str, object]] | None = None,
    **channel: object,
) -> Path:
    """A config file with one lab channel on `port` and the default partners."""
    ch = {"name": "lab", "protocol": "mllp", "listen": f"tcp:{port}:interface=127.0.0.1", "domain": "lab"}
    ch.update(channel)
    data: dict[str, object] = {
        "database": {"url": db_url, "busy_timeout_ms": busy_timeout_ms},
        "channels": [ch, *(extra_channels or [])],
        "partners": DEFAULT_PARTNERS if partners is None else partners,
    }
    if security:
        data["security"] = security
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def start_server(tmp_path: Path, db_url: str, port: int | None = None, workers: int = 1, **options: object) -> Server:
    """Start the real server as a subprocess and wait until it accepts connections."""
    port = port or free_port()
    config = write_config(tmp_path / f"config-{port}.yaml", db_url, port, **options)  # type: ignore[arg-type]
    log = tmp_path / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--config", str(config), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Server(port, config, db_url, proc, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start listening")


@pytest.fixture(scope="session")
def port_maker() -> object:
    """`free_port` itself."""
    return free_port


@pytest.fixture(scope="session")
def start_server_fn() -> object:
    """`start_server` itself, for module-scoped fixtures that build their own config."""
    return start_server


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for a whole test module (SQLite, short busy timeout, 64 KiB frames)."""
    tmp = tmp_path_factory.mktemp("hub")
    srv = start_server(tmp, f"sqlite:///{tmp / 'hub.db'}", busy_timeout_ms=300, max_frame_bytes=65536)
    yield srv
    srv.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    """Start servers on demand; all are stopped at the end of the test."""
    started: list[Server] = []

    def make(db_url: str | None = None, port: int | None = None, workers: int = 1, **options: object) -> Server:
        url = db_url or f"sqlite:///{tmp_path / 'hub.db'}"
        srv = start_server(tmp_path, url, port, workers, **options)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


# -- certification traffic from a vendor, shared by the campaign tests ------------------------
def _obr(status: str, filler: str = "F100") -> str:
    return "|".join(
        ["OBR", "1", "", f"{filler}^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    )


def vendor_message(
    cid: str,
    status: str,
    *,
    app: str = "VENDLAB",
    fac: str = "LABO",
    obx_status: str = "F",
    obx3: str = "2345-7^Glucose^LN",
    charset: str = "",
    note: str = "",
    filler: str = "F100",
) -> str:
    """A v2.5.1 ORU^R01 from the product under test (MSH-11 T)."""
    msh18 = f"||||||{charset}" if charset else ""
    nte = f"NTE|1||{note}\r" if note else ""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|T|2.5.1{msh18}\r"
        "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Helene||19541231|F\r"
        f"{_obr(status, filler)}\r{nte}"
        f"OBX|1|NM|{obx3}||5.4|mmol/L|3.9-6.1|N|||{obx_status}\r"
    )


def vendor_traffic(folder: Path, app: str = "VENDLAB", fac: str = "LABO") -> list[Path]:
    """One file per scenario, named after it, as a vendor would record them."""
    files = {
        "LAB-01_final.hl7": vendor_message("LAB-01-1", "F", app=app, fac=fac).encode(),
        "LAB-02_prelim_then_final.hl7": (
            vendor_message("LAB-02-1", "P", app=app, fac=fac, obx_status="P", filler="F200")
            + "\n"
            + vendor_message("LAB-02-2", "F", app=app, fac=fac, filler="F200")
        ).encode(),
        "LAB-03_corrected.hl7": vendor_message("LAB-03-1", "C", app=app, fac=fac, obx_status="C").encode(),
        "LAB-04_cancelled.hl7": vendor_message("LAB-04-1", "X", app=app, fac=fac, obx_status="X").encode(),
        "LAB-05_french.hl7": vendor_message(
            "LAB-05-1", "F", app=app, fac=fac, charset="8859/1", note="Échantillon hémolysé"
        ).encode("latin-1"),
        "LAB-06_refused.hl7": vendor_message("LAB-06-1", "F", app=app, fac=fac, obx3="GLU^Glucose^L").encode(),
    }
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


@dataclass
class TrafficMaker:
    """The vendor traffic helpers, as a fixture."""

    message: Any
    files: Any


@pytest.fixture
def traffic_maker() -> TrafficMaker:
    """Build certification traffic (LAB-01 to LAB-06) for the tgv-lab plan."""
    return TrafficMaker(vendor_message, vendor_traffic)
