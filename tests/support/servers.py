"""Real `passerelle serve` subprocesses for the end-to-end tests, and the config files they read.

The fixtures in tests/conftest.py hand these out; the types here are what the tests annotate
their fixtures with.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import yaml

ROOT = Path(__file__).resolve().parents[2]

# The partners of the default config.yaml: the example traffic, LIS/CHUM included.
_DEFAULTS = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
DEFAULT_PARTNERS: list[dict[str, object]] = _DEFAULTS["partners"]
DEFAULT_ORGANIZATIONS: list[dict[str, object]] = _DEFAULTS["organizations"]

# Set by tests/conftest.py before each test: whether it is marked slow. Only slow tests may start
# a server, so `pytest -m "not slow"` runs no subprocess hub (None: outside pytest, no check).
SLOW_TEST: bool | None = None


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


class ServerFactory(Protocol):
    """The `server_factory` fixture: start a server now, stopped at the end of the test."""

    def __call__(
        self, db_url: str | None = None, port: int | None = None, workers: int = 1, **options: object
    ) -> Server:
        """Start a server (on the test's own SQLite file unless `db_url` says otherwise)."""


def write_config(path: Path, db_url: str, port: int, **options: object) -> Path:
    """A config file with one lab channel on `port` and the default partners.

    `busy_timeout_ms` (default 5000), `database` (more database keys), `partners`,
    `organizations` (added to the default ones), `practitioners`, `security`, `audit_export` and
    `extra_channels` go to their sections; every other option is one of the lab channel's.
    """
    extra_channels = options.pop("extra_channels", None) or []
    assert isinstance(extra_channels, list), "extra_channels is a list of channels"
    partners = options.pop("partners", None)
    security = options.pop("security", None)
    audit_export = options.pop("audit_export", None)
    organizations = [*DEFAULT_ORGANIZATIONS, *cast(list[object], options.pop("organizations", None) or [])]
    practitioners = options.pop("practitioners", None) or []
    database = options.pop("database", None) or {}
    assert isinstance(database, dict), "database holds database keys (lock_timeout_ms...)"
    lab: dict[str, object] = {"name": "lab", "protocol": "mllp", "listen": f"tcp:{port}:interface=127.0.0.1"}
    data: dict[str, object] = {
        "database": {
            "url": db_url,
            "busy_timeout_ms": options.pop("busy_timeout_ms", 5000),
            **database,
        },
        # Unvalidated unless the test names a rule set: these tests are about links, framing and
        # storage, and send minimal messages (a channel without `ruleset` validates by default).
        "channels": [{**lab, "domain": "lab", "ruleset": "none", **options}, *extra_channels],
        "organizations": organizations,
        "practitioners": practitioners,
        "partners": DEFAULT_PARTNERS if partners is None else partners,
    }
    if security:
        data["security"] = security
    if audit_export:
        data["audit_export"] = audit_export
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def start_server(tmp_path: Path, db_url: str, port: int | None = None, workers: int = 1, **options: object) -> Server:
    """Start the real server as a subprocess and wait until it accepts connections."""
    if SLOW_TEST is False:
        raise RuntimeError("this test starts a real server: mark it (or its module) with pytest.mark.slow")
    port = port or free_port()
    config = write_config(tmp_path / f"config-{port}.yaml", db_url, port, **options)
    log = tmp_path / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--config", str(config), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        cwd=ROOT,
    )
    waiting = _tcp_ports(config)  # every channel: the hub listens on them one after another
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            while waiting:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2).close()
                waiting.pop(0)
            return Server(port, config, db_url, proc, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start listening on {waiting}")


def _tcp_ports(config: Path) -> list[int]:
    """The ports of the config's `tcp:` and `ssl:` channels, in order."""
    channels = yaml.safe_load(config.read_text(encoding="utf-8"))["channels"]
    found = (re.match(r"(?:tcp|ssl):(?:port=)?(\d+)", str(c.get("listen", ""))) for c in channels)
    return [int(m.group(1)) for m in found if m]
