"""`passerelle practitioners …`: the practitioner register (add, import, suspend, revoke, reinstate, list, show)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option, reason_option
from hub.cli.organizations import print_report, read_file


@click.group()
def practitioners() -> None:
    """The practitioner register: licence and order, organizations, certificates, state."""


@practitioners.command("add")
@config_option
@operator_option
@click.option("--reason", default="added by hand", show_default=True)
@click.option("--id", "practitioner_id", required=True)
@click.option("--licence", required=True, help="The licence number given by the order.")
@click.option("--order", required=True, help="The issuing order: CMQ, OPQ, OIIQ, OPIQ, ODQ, OTSTCFQ…")
@click.option("--family", required=True)
@click.option("--given", default="")
@click.option("--profession", required=True)
@click.option("--organization", "organizations", multiple=True, metavar="ORG", help="An organization id; repeatable.")
@click.option("--certificate", "certificates", multiple=True, metavar="SHA256", help="A certificate fingerprint.")
@click.option("--nam", default=None, help="Their own NAM (health insurance number).")
def practitioners_add(config_file: str | None, operator: str | None, reason: str, **f: Any) -> None:
    """Register one practitioner, active."""
    from pydantic import ValidationError

    from hub.registers import PractitionerSpec, import_practitioners, state_of

    data = {k: f[k] for k in ("licence", "order", "family", "given", "profession", "nam")}
    data |= {"id": f["practitioner_id"], "organizations": list(f["organizations"])}
    data["certificates"] = list(f["certificates"])
    try:
        spec = PractitionerSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.ClickException(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    engine = engine_for(config_file)
    with engine.connect() as conn:
        if state_of(conn, spec.id) is not None:
            raise click.ClickException(f"practitioner {spec.id!r} exists: use `practitioners import` to change it")
    report = import_practitioners(engine, [spec], operator_of(operator), reason, action="add")
    if report.refused:
        raise click.ClickException(f"{spec.id}: {report.refused[0][1]}")
    echo(f"added\t{spec.id}")


@practitioners.command("import")
@config_option
@operator_option
@click.option("--reason", default="import", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def practitioners_import(config_file: str | None, operator: str | None, reason: str, file: Path) -> None:
    """Add or update practitioners from a YAML list; a revoked one is never changed. Exit 1 on any refusal."""
    from hub.registers import import_practitioners, read_practitioners

    specs = read_file(file, read_practitioners)
    print_report(import_practitioners(engine_for(config_file), specs, operator_of(operator), reason))


def _change(config_file: str | None, practitioner_id: str, action: str, operator: str | None, reason: str) -> None:
    from hub.governance.specs import RegistryError
    from hub.registers import change_state

    if not reason.strip():
        raise click.ClickException("a reason is required: --reason TEXT")
    try:
        state = change_state(engine_for(config_file), practitioner_id, action, operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"{practitioner_id}: {state}")


@practitioners.command("suspend")
@config_option
@operator_option
@reason_option
@click.argument("practitioner_id")
def practitioners_suspend(config_file: str | None, operator: str | None, reason: str, practitioner_id: str) -> None:
    """Suspend an active practitioner, reversibly."""
    _change(config_file, practitioner_id, "suspend", operator, reason)


@practitioners.command("revoke")
@config_option
@operator_option
@reason_option
@click.argument("practitioner_id")
def practitioners_revoke(config_file: str | None, operator: str | None, reason: str, practitioner_id: str) -> None:
    """Revoke a practitioner. Final: nothing can reinstate them."""
    _change(config_file, practitioner_id, "revoke", operator, reason)


@practitioners.command("reinstate")
@config_option
@operator_option
@reason_option
@click.argument("practitioner_id")
def practitioners_reinstate(config_file: str | None, operator: str | None, reason: str, practitioner_id: str) -> None:
    """Make a suspended practitioner active again (never a revoked one)."""
    _change(config_file, practitioner_id, "reinstate", operator, reason)


@practitioners.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def practitioners_list(config_file: str | None, as_json: bool) -> None:
    """Every practitioner with their state, licence, profession and organizations."""
    from hub.registers import list_practitioners

    rows = list_practitioners(engine_for(config_file))
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        licence = f"{r['order']} {r['licence']}"
        name = f"{r['family']}, {r['given']}" if r["given"] else r["family"]
        where = ",".join(r["organizations"]) or "-"
        echo(f"{r['id']:24} {r['state']:10} {licence:18} {r['profession']:16} {where:24} {name}")


@practitioners.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True)
@click.argument("practitioner_id")
def practitioners_show(config_file: str | None, as_json: bool, practitioner_id: str) -> None:
    """One practitioner, with their history of changes."""
    from hub.registers import practitioner

    found = practitioner(engine_for(config_file), practitioner_id)
    if found is None:
        raise click.ClickException(f"no practitioner {practitioner_id!r}")
    if as_json:
        echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for key in ("id", "state", "order", "licence", "family", "given", "profession", "nam"):
        echo(f"{key}\t{found[key] or '-'}")
    echo(f"organizations\t{','.join(found['organizations']) or '-'}")
    echo(f"certificates\t{','.join(found['certificates']) or '-'}")
    for event in found["history"]:
        echo(f"{event['at']}\t{event['action']}\t{event['state']}\t{event['operator']}\t{event['reason']}")
