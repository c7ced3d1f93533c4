"""The `passerelle` commands that need no listening hub: config, schema, partners by hand, the entry point.

Run in this process through click's CliRunner, except `serve` and `python -m hub`, where a
separate process is what is being checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from commands import invoke, run_hub
from servers import ROOT
from sqlalchemy import text

from hub.store.db import make_engine, upgrade


def test_config_errors_are_one_line_naming_the_key(tmp_path: Path) -> None:
    """A wrong key or value gets one line naming it, and a non-zero exit, no traceback."""
    bad = tmp_path / "bad.yaml"
    channel = "channels:\n  - name: lab\n    protocol: mllp\n    listen: tcp:1\n"
    bad.write_text(channel + "    domain: lab\n    colour: red\n")
    result = invoke("check-config", "--config", str(bad))
    assert result.exit_code != 0
    assert "channels.0.colour" in result.stderr
    assert "Traceback" not in result.stderr
    bad.write_text(channel + "    domain: radio\n")
    result = invoke("check-config", "--config", str(bad))
    assert "channels.0.domain" in result.stderr
    assert "unknown domain" in result.stderr
    assert invoke("check-config", "--config", str(tmp_path / "missing.yaml")).exit_code != 0


def test_environment_overrides_config(tmp_path: Path) -> None:
    """PASSERELLE_CONFIG picks the file; PASSERELLE_DATABASE_URL overrides its database."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("database:\n  url: sqlite:///nowhere.db\n")
    env = {"PASSERELLE_CONFIG": str(cfg), "PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    assert invoke("db", "upgrade", env=env).exit_code == 0
    assert (tmp_path / "env.db").exists()
    assert not (tmp_path / "nowhere.db").exists()


def test_serve_refuses_an_outdated_schema(tmp_path: Path) -> None:
    """On an outdated database `serve` exits and names `passerelle db upgrade`."""
    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"database:\n  url: sqlite:///{db}\n")
    result = run_hub("serve", "--config", str(cfg))
    assert result.returncode != 0
    assert "passerelle db upgrade" in result.stderr


@pytest.mark.parametrize("entry", [["-m", "hub", "--help"], ["-c", "from hub.cli import main; main(['--help'])"]])
def test_python_m_hub_is_the_cli(entry: list[str]) -> None:
    """`python -m hub` runs the same click group as the `passerelle` script."""
    result = subprocess.run([sys.executable, *entry], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "show" in result.stdout
    assert "serve" in result.stdout


def cli(config: Path, *args: str) -> Result:
    """`passerelle ARGS --config CONFIG` as operator alice, in this process."""
    return invoke(*args, "--config", str(config), env={"PASSERELLE_OPERATOR": "alice"})


def test_partners_add_and_partners_file_in_config(tmp_path: Path) -> None:
    """`partners add` registers by hand (an insurer is cut on arrival); config takes {file: ...}."""
    listing = tmp_path / "partners.yaml"
    listing.write_text(
        "- id: sil-hmr\n  name: SIL HMR\n  organization: hmr\n  category: government\n  domains: [lab]\n"
        "  product: {name: LabSys, version: '4.2'}\n"
        "  identities:\n    - {sending_application: SIL, sending_facility: HMR}\n"
    )
    config = tmp_path / "c.yaml"
    organizations = "organizations:\n  - {id: hmr, name: HMR, type: hospital}\n"
    config.write_text(
        f"database:\n  url: sqlite:///{tmp_path / 'p.db'}\n{organizations}partners: {{file: partners.yaml}}\n"
    )
    assert cli(config, "check-config").exit_code == 0
    assert cli(config, "db", "upgrade").exit_code == 0
    (tmp_path / "orgs.yaml").write_text("- {id: assurances-x, name: Assurances X, type: government-system}\n")
    assert cli(config, "organizations", "import", str(tmp_path / "orgs.yaml")).exit_code == 0
    added = cli(
        config, "partners", "add", "--id", "assur-x", "--name", "Assureur X", "--category", "insurer",
        "--domain", "lab", "--product", "Claims", "--version", "9", "--msh", "CLAIMS/ASSURX",
        "--organization", "assurances-x",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    listed = cli(config, "partners", "list")
    assert "assur-x" in listed.stdout
    assert "cut" in listed.stdout
    missing = tmp_path / "c2.yaml"
    missing.write_text("partners: {file: nowhere.yaml}\n")
    result = cli(missing, "check-config")
    assert result.exit_code != 0
    assert "nowhere.yaml" in result.stderr
