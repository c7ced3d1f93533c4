"""`passerelle partners …` and `passerelle journal verify`: the registry and its audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option
from hub.governance.policy import CATEGORIES as CATEGORY_NAMES
from hub.governance.specs import DOMAINS


@click.group()
def partners() -> None:
    """The partner registry: who may link, under the link policy."""


@partners.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def partners_list(config_file: str | None, as_json: bool) -> None:
    """Every partner with its category, product, state and identities."""
    from hub.governance.partners import list_partners

    rows = list_partners(engine_for(config_file))
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        product = f"{r['product']['name']} {r['product']['version']}"
        echo(f"{r['id']:24} {r['state']:10} {r['category']:22} {','.join(r['domains']):18} {product}")


@partners.command("show")
@config_option
@click.argument("partner_id")
def partners_show(config_file: str | None, partner_id: str) -> None:
    """One partner, with its history of state changes (JSON)."""
    from hub.governance.partners import history, list_partners

    engine = engine_for(config_file)
    found = [r for r in list_partners(engine) if r["id"] == partner_id]
    if not found:
        raise click.ClickException(f"no partner {partner_id!r}")
    echo(json.dumps({**found[0], "history": history(engine, partner_id)}, ensure_ascii=False, indent=2))


@partners.command("import")
@config_option
@operator_option
@click.option("--reason", default="import", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def partners_import(config_file: str | None, operator: str | None, reason: str, file: Path) -> None:
    """Add or update partners from a YAML list; a cut partner is never changed. Exit 1 on any refusal."""
    import yaml

    from hub.governance.partners import RegistryError, import_specs, read_specs

    try:
        specs = read_specs(yaml.safe_load(file.read_text(encoding="utf-8")), file.parent)
    except (RegistryError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    report = import_specs(engine_for(config_file), specs, operator_of(operator), reason)
    for name in ("added", "updated", "unchanged"):
        for partner_id in getattr(report, name):
            echo(f"{name}\t{partner_id}")
    for partner_id, why in report.refused:
        echo(f"refused\t{partner_id}\t{why}")
    sys.exit(1 if report.refused else 0)


@partners.command("add")
@config_option
@operator_option
@click.option("--reason", default="added by hand", show_default=True)
@click.option("--id", "partner_id", required=True)
@click.option("--name", required=True)
@click.option("--organization", default="")
@click.option("--category", required=True, type=click.Choice(CATEGORY_NAMES))
@click.option("--domain", "domains", multiple=True, required=True, type=click.Choice(list(DOMAINS)))
@click.option("--product", required=True, help="Product name.")
@click.option("--version", "product_version", required=True, help="Product version.")
@click.option("--msh", multiple=True, metavar="APP/FACILITY", help="An (MSH-3, MSH-4) identity; repeatable.")
@click.option("--certificate", multiple=True, metavar="SHA256", help="A TLS client certificate fingerprint.")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A PEM file: the public key a consulting system signs its requests with; repeatable.",
)
def partners_add(config_file: str | None, operator: str | None, reason: str, **f: Any) -> None:
    """Register one partner (an insurer or data vault is cut on arrival, by policy)."""
    from pydantic import ValidationError

    from hub.governance.partners import PartnerSpec, import_specs, state_of

    identities: list[dict[str, str]] = [{"certificate_sha256": fp} for fp in f["certificate"]]
    identities += [{"public_key": path.read_text(encoding="ascii", errors="replace")} for path in f["public_keys"]]
    for pair in f["msh"]:
        app, _, facility = pair.partition("/")
        identities.append({"sending_application": app, "sending_facility": facility})
    data = {k: f[k] for k in ("name", "organization", "category")}
    data |= {"id": f["partner_id"], "domains": list(f["domains"]), "identities": identities}
    data["product"] = {"name": f["product"], "version": f["product_version"]}
    try:
        spec = PartnerSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.ClickException(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    engine = engine_for(config_file)
    with engine.connect() as conn:
        if state_of(conn, spec.id) is not None:
            raise click.ClickException(f"partner {spec.id!r} exists: use `partners import` to change it")
    report = import_specs(engine, [spec], operator_of(operator), reason)
    if report.refused:
        raise click.ClickException(f"{spec.id}: {report.refused[0][1]}")
    echo(f"added\t{spec.id}")


def _change(config_file: str | None, partner_id: str, action: str, operator: str | None, reason: str) -> None:
    from hub.governance.partners import RegistryError, change_state

    try:
        state = change_state(engine_for(config_file), partner_id, action, operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"{partner_id}: {state}")


reason_option = click.option("--reason", required=True, help="Why (journaled).")


@partners.command("approve")
@config_option
@operator_option
@reason_option
@click.argument("partner_id")
def partners_approve(config_file: str | None, operator: str | None, reason: str, partner_id: str) -> None:
    """Make a suspended partner active again (never a cut one)."""
    _change(config_file, partner_id, "approve", operator, reason)


@partners.command("suspend")
@config_option
@operator_option
@reason_option
@click.argument("partner_id")
def partners_suspend(config_file: str | None, operator: str | None, reason: str, partner_id: str) -> None:
    """Stop accepting a partner's messages, reversibly."""
    _change(config_file, partner_id, "suspend", operator, reason)


@partners.command("cut")
@config_option
@operator_option
@reason_option
@click.argument("partner_id")
def partners_cut(config_file: str | None, operator: str | None, reason: str, partner_id: str) -> None:
    """Cut a partner's links. Final: nothing can reinstate it."""
    _change(config_file, partner_id, "cut", operator, reason)


@click.group()
def journal() -> None:
    """The tamper-evident journal."""


@journal.command("verify")
@config_option
def journal_verify(config_file: str | None) -> None:
    """Walk the hash chain; exit 0 when intact, else name the first broken link and exit 1."""
    from hub.governance.journal import record_verification, verify

    engine = engine_for(config_file)
    broken, count, head = verify(engine)
    if broken is not None:
        record_verification(engine, operator_of(None), (broken, count, head))
        echo(f"broken at entry {broken.seq}: {broken.problem} ({count} entries verified before it)", err=True)
        sys.exit(1)
    echo(f"ok: {count} entries, head {head or '-'}")
