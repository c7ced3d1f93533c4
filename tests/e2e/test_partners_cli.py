"""The partners and journal commands, and a cut that survives a config re-import and a restart."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

from hub.cli.client import MLLPClient, parse_ack

ROOT = Path(__file__).resolve().parents[2]
ORU = (
    b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
    b"PID|1||123^^^CHUM^MR||Lavoie^Helene||19541231|F\r"
    b"OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
    b"OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
)


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m hub ARGS --config CONFIG` as operator alice."""
    env = {**os.environ, "PASSERELLE_OPERATOR": "alice"}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args, "--config", str(config)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


def send(port: int, cid: str) -> str:
    """MSA-1 for one LIS/CHUM message."""
    client = MLLPClient("127.0.0.1", port)
    try:
        return parse_ack(client.send(ORU.replace(b"{cid}", cid.encode()))).code
    finally:
        client.close()


def test_cut_is_final_through_the_cli_the_config_and_a_restart(server_factory: object, tmp_path: Path) -> None:
    """Cut via CLI: AR at once; approve and import fail; restarting with the config keeps it cut."""
    server = server_factory()  # type: ignore[operator]
    assert send(server.port, "C1") == "AA"
    cut = cli(server.config, "partners", "cut", "exemple-sil-chum", "--reason", "contract ended")
    assert cut.returncode == 0, cut.stderr
    assert send(server.port, "C2") == "AR"
    approve = cli(server.config, "partners", "approve", "exemple-sil-chum", "--reason", "oops")
    assert approve.returncode != 0
    assert "irreversible" in approve.stderr
    entry = yaml.safe_load(server.config.read_text())["partners"][0]
    partners_file = tmp_path / "again.yaml"
    partners_file.write_text(yaml.safe_dump([entry], allow_unicode=True))
    reimport = cli(server.config, "partners", "import", str(partners_file))
    assert reimport.returncode == 1
    assert "refused\texemple-sil-chum" in reimport.stdout
    clone = {**entry, "id": "sil-chum-clone"}
    partners_file.write_text(yaml.safe_dump([clone], allow_unicode=True))
    assert "refused\tsil-chum-clone" in cli(server.config, "partners", "import", str(partners_file)).stdout
    server.stop()
    restarted = server_factory(server.db_url, port=server.port)  # type: ignore[operator]
    assert send(restarted.port, "C3") == "AR"
    shown = cli(server.config, "partners", "show", "exemple-sil-chum")
    assert '"state": "cut"' in shown.stdout
    assert '"operator": "alice"' in shown.stdout


def test_journal_verify_cli(server_factory: object) -> None:
    """`journal verify` exits 0 on the intact journal, 1 naming the entry after an edit."""
    server = server_factory()  # type: ignore[operator]
    for n in range(3):
        send(server.port, f"J{n}")
    server.stop()
    ok = cli(server.config, "journal", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: ")
    db = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        seq = conn.execute("SELECT seq FROM journal WHERE control_id = 'J1'").fetchone()[0]
        conn.execute("UPDATE journal SET ack_code = 'AE' WHERE control_id = 'J1'")
    bad = cli(server.config, "journal", "verify")
    assert bad.returncode == 1
    assert f"broken at entry {seq}" in bad.stderr


def test_partners_add_and_partners_file_in_config(tmp_path: Path) -> None:
    """`partners add` registers by hand (an insurer is cut on arrival); config takes {file: ...}."""
    listing = tmp_path / "partners.yaml"
    listing.write_text(
        "- id: sil-hmr\n  name: SIL HMR\n  category: government\n  domains: [lab]\n"
        "  product: {name: LabSys, version: '4.2'}\n"
        "  identities:\n    - {sending_application: SIL, sending_facility: HMR}\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'p.db'}\npartners: {{file: partners.yaml}}\n")
    assert cli(config, "check-config").returncode == 0
    assert cli(config, "db", "upgrade").returncode == 0
    added = cli(
        config, "partners", "add", "--id", "assur-x", "--name", "Assureur X", "--category", "insurer",
        "--domain", "lab", "--product", "Claims", "--version", "9", "--msh", "CLAIMS/ASSURX",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = cli(config, "partners", "list")
    assert "assur-x" in listed.stdout
    assert "cut" in listed.stdout
    missing = tmp_path / "c2.yaml"
    missing.write_text("partners: {file: nowhere.yaml}\n")
    result = cli(missing, "check-config")
    assert result.returncode != 0
    assert "nowhere.yaml" in result.stderr
