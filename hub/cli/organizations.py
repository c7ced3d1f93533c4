"""`passerelle organizations …`: the organization register (import, list, show).

Also what the register commands share: reading a YAML file of specs, printing an import report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option

Spec = TypeVar("Spec")


def read_file(file: Path, reader: Callable[[Any, Path], list[Spec]]) -> list[Spec]:
    """The specs of a YAML file (a list, or ``{file: …}`` relative to it), or a one-line error."""
    import yaml

    from hub.governance.specs import RegistryError

    try:
        return reader(yaml.safe_load(file.read_text(encoding="utf-8")), file.parent)
    except (RegistryError, yaml.YAMLError) as exc:
        reason = str(exc) if isinstance(exc, RegistryError) else "not valid YAML"
        raise click.ClickException(f"{file}: {reason}") from None


def print_report(report: Any) -> None:
    """One line per entry (added, updated, unchanged, refused + why); exit 1 on any refusal."""
    for name in ("added", "updated", "unchanged"):
        for entry_id in getattr(report, name):
            echo(f"{name}\t{entry_id}")
    for entry_id, why in report.refused:
        echo(f"refused\t{entry_id}\t{why}")
    if report.refused:
        echo(f"error: {len(report.refused)} refused, first: {report.refused[0][0]}: {report.refused[0][1]}", err=True)
    sys.exit(1 if report.refused else 0)


@click.group()
def organizations() -> None:
    """The organization register: places and organizations, what they may feed, their codes."""


@organizations.command("import")
@config_option
@operator_option
@click.option("--reason", default="import", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def organizations_import(config_file: str | None, operator: str | None, reason: str, file: Path) -> None:
    """Add or update organizations from a YAML list. Exit 1 on any refusal."""
    from hub.registers import import_organizations, read_organizations

    specs = read_file(file, read_organizations)
    print_report(import_organizations(engine_for(config_file), specs, operator_of(operator), reason))


@organizations.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def organizations_list(config_file: str | None, as_json: bool) -> None:
    """Every organization with its type, the domains it may feed and its codes."""
    from hub.registers import list_organizations

    rows = list_organizations(engine_for(config_file))
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        codes = " ".join(f"{kind}={','.join(values)}" for kind, values in r["codes"].items() if values)
        echo(f"{r['id']:24} {r['type']:20} {','.join(r['domains']) or '-':28} {r['name']}  {codes}".rstrip())


@organizations.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True)
@click.argument("organization_id")
def organizations_show(config_file: str | None, as_json: bool, organization_id: str) -> None:
    """One organization."""
    from hub.registers import organization

    found = organization(engine_for(config_file), organization_id)
    if found is None:
        raise click.ClickException(f"no organization {organization_id!r}")
    if as_json:
        echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    echo(f"id\t{found['id']}\nname\t{found['name']}\ntype\t{found['type']}")
    echo(f"domains\t{','.join(found['domains']) or '-'}")
    for kind, values in found["codes"].items():
        echo(f"{kind}\t{','.join(values) or '-'}")
