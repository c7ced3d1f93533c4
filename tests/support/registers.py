"""The organization and practitioner registers as the tests use them: specs, a CLI on a fresh database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import Result
from commands import invoke
from sqlalchemy import Engine, select

from hub.registers import OrganizationSpec, PractitionerSpec
from hub.store.models import JournalEntry

FINGERPRINT = ":".join(["ab"] * 32)


def org(oid: str = "chum", kind: str = "hospital", **codes: list[str]) -> OrganizationSpec:
    """An organization spec; `codes` by list name (facility=[...], accession_issuer=[...])."""
    return OrganizationSpec.model_validate({"id": oid, "name": oid.upper(), "type": kind, "codes": codes})


def person(pid: str = "dr-tremblay", licence: str = "12345", **fields: Any) -> PractitionerSpec:
    """A practitioner spec (CMQ physician at chum unless `fields` say otherwise)."""
    data: dict[str, Any] = {"id": pid, "licence": licence, "order": "CMQ", "family": "Tremblay", "given": "Marie"}
    data |= {"profession": "médecin", "organizations": ["chum"]}
    return PractitionerSpec.model_validate(data | fields)


def journal(engine: Engine) -> list[tuple[str, str, str]]:
    """(status, operator, reason) of every journal entry, in chain order."""
    with engine.connect() as conn:
        rows = conn.execute(select(JournalEntry).order_by(JournalEntry.seq)).all()
    return [(r.status, r.operator, r.reason) for r in rows]


def make_config(tmp_path: Path, extra: str = "") -> Path:
    """A config.yaml on a fresh SQLite file (`extra` appended), with its schema upgraded."""
    config = tmp_path / "c.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'r.db'}\n{extra}", encoding="utf-8")
    result = invoke("db", "upgrade", "--config", str(config))
    assert result.exit_code == 0, result.stderr
    return config


def cli(config: Path, *args: str) -> Result:
    """`passerelle ARGS --config CONFIG` as operator alice, in this process."""
    return invoke(*args, "--config", str(config), env={"PASSERELLE_OPERATOR": "alice"})


def one_error_line(result: Result) -> str:
    """The single stderr line of a refused command (it must have failed, without a traceback)."""
    assert result.exit_code != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
