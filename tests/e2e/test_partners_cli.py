"""The partners and journal commands, and a cut that survives a config re-import and a restart.

The commands run in this process against the real server's repository (tests/hub/test_cli.py
has `partners add`, which needs no server).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from commands import invoke
from servers import ServerFactory

from hub.cli.client import MLLPClient, parse_ack

pytestmark = pytest.mark.slow
ORU = (
    b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
    b"PID|1||123^^^CHUM^MR||Lavoie^Helene||19541231|F\r"
    b"OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
    b"OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
)


def cli(config: Path, *args: str) -> Result:
    """`passerelle ARGS --config CONFIG` as operator alice, in this process."""
    return invoke(*args, "--config", str(config), env={"PASSERELLE_OPERATOR": "alice"})


def send(port: int, cid: str) -> str:
    """MSA-1 for one LIS/CHUM message."""
    client = MLLPClient("127.0.0.1", port)
    try:
        return parse_ack(client.send(ORU.replace(b"{cid}", cid.encode()))).code
    finally:
        client.close()


def test_cut_is_final_through_the_cli_the_config_and_a_restart(server_factory: ServerFactory, tmp_path: Path) -> None:
    """Cut via CLI: AR at once; approve and import fail; restarting with the config keeps it cut."""
    server = server_factory()
    assert send(server.port, "C1") == "AA"
    cut = cli(server.config, "partners", "cut", "exemple-sil-chum", "--reason", "contract ended")
    assert cut.exit_code == 0, cut.stderr
    assert send(server.port, "C2") == "AR"
    approve = cli(server.config, "partners", "approve", "exemple-sil-chum", "--reason", "oops")
    assert approve.exit_code != 0
    assert "irreversible" in approve.stderr
    entry = yaml.safe_load(server.config.read_text())["partners"][0]
    partners_file = tmp_path / "again.yaml"
    partners_file.write_text(yaml.safe_dump([entry], allow_unicode=True))
    reimport = cli(server.config, "partners", "import", str(partners_file))
    assert reimport.exit_code == 1
    assert "refused\texemple-sil-chum" in reimport.stdout
    clone = {**entry, "id": "sil-chum-clone"}
    partners_file.write_text(yaml.safe_dump([clone], allow_unicode=True))
    assert "refused\tsil-chum-clone" in cli(server.config, "partners", "import", str(partners_file)).stdout
    server.stop()
    restarted = server_factory(server.db_url, port=server.port)
    assert send(restarted.port, "C3") == "AR"
    shown = cli(server.config, "partners", "show", "exemple-sil-chum")
    assert '"state": "cut"' in shown.stdout
    assert '"operator": "alice"' in shown.stdout


def test_journal_verify_cli(server_factory: ServerFactory) -> None:
    """`journal verify` exits 0 on the intact journal, 1 naming the entry after an edit."""
    server = server_factory()
    for n in range(3):
        send(server.port, f"J{n}")
    server.stop()
    ok = cli(server.config, "journal", "verify")
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.startswith("ok: ")
    db = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        seq = conn.execute("SELECT seq FROM journal WHERE control_id = 'J1'").fetchone()[0]
        conn.execute("DROP TRIGGER journal_no_update")  # the database's owner lifts the guard first
        conn.execute("UPDATE journal SET ack_code = 'AE' WHERE control_id = 'J1'")
    bad = cli(server.config, "journal", "verify")
    assert bad.exit_code == 1
    assert f"broken at entry {seq}" in bad.stderr
