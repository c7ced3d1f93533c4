"""Faults: PostgreSQL stopped under load gives negative ACKs, never AA, and the hub recovers alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers import lab_message
from servers import ServerFactory

from hub.cli.client import MLLPClient, parse_ack

pytestmark = pytest.mark.slow


def _cluster() -> list[str] | None:
    if not os.environ.get("PASSERELLE_TEST_PG") or shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").is_dir() else []
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"] if versions else None


def _pg(cluster: list[str], action: str) -> None:
    subprocess.run([*cluster, action, *(["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


def test_postgresql_outage_gives_negative_acks_then_recovery(pg_url: str, server_factory: ServerFactory) -> None:
    """AA before; AR 207 (never AA) while PostgreSQL is down; AA again once it is back, same process."""
    db_url = pg_url
    cluster = _cluster()
    if cluster is None:
        pytest.skip("needs root and pg_ctlcluster to stop the local cluster (CI has both)")
    server = server_factory(db_url)
    client = MLLPClient("127.0.0.1", server.port, timeout=30)
    try:
        assert parse_ack(client.send(lab_message("F-1"))).code == "AA"
        _pg(cluster, "stop")
        try:
            during = [parse_ack(client.send(lab_message(f"F-DOWN-{n}"))) for n in range(3)]
        finally:
            _pg(cluster, "start")
        assert [a.code for a in during] == ["AR"] * 3
        assert all("|207^" in a.errors[0] for a in during)
        deadline = time.monotonic() + 60
        code = ""
        while time.monotonic() < deadline and code != "AA":
            code = parse_ack(client.send(lab_message("F-DOWN-0"))).code
            time.sleep(0.5)
        assert code == "AA"
        assert server.proc.poll() is None
    finally:
        client.close()


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, timeout=30
        ).returncode
        == 0
    )


def test_full_disk_under_sqlite_gives_negative_acks_and_no_crash(tmp_path: Path, server_factory: ServerFactory) -> None:
    """On a full 4 MB tmpfs the hub answers AR 207, never AA, stays up, and accepts again once space frees."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("needs root and mount to make a small tmpfs (CI has both)")
    try:
        server = server_factory(f"sqlite:///{disk / 'hub.db'}")
        client = MLLPClient("127.0.0.1", server.port, timeout=30)
        try:
            assert parse_ack(client.send(lab_message("D-1"))).code == "AA"
            filler = disk / "filler"
            with filler.open("wb") as f:  # take every byte left
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            # The space the hub gets back below must be the filler's: the schema and its WAL fit with room.
            assert filler.stat().st_size >= 4 * 65536, "the tmpfs was full before the filler: make it larger"
            big = lab_message("D-2").replace(b"||5.4|", b"|TX|" + b"x" * 60_000 + b"|")
            codes = [parse_ack(client.send(big.replace(b"D-2", f"D-{n}".encode()))) for n in range(2, 6)]
            assert all(a.code == "AR" and "|207^" in a.errors[0] for a in codes)
            assert server.proc.poll() is None
            filler.unlink()
            assert parse_ack(client.send(lab_message("D-9"))).code == "AA"
        finally:
            client.close()
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)
