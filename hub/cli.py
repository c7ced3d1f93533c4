"""The `passerelle` command line (click). Errors a person sees are one line, no stack trace."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from .config import Config, ConfigError, config_path, load
from .policy import CATEGORIES as CATEGORY_NAMES


def _config(path: str | None) -> Config:
    try:
        return load(config_path(path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    help="Configuration file (default: $PASSERELLE_CONFIG, then ./config.yaml).",
)


@click.group()
def main() -> None:
    """Passerelle: an HL7 v2 integration hub for a provincial shared health record."""


@main.command()
@config_option
def serve(config_file: str | None) -> None:
    """Run the hub: create the schema on an empty database, listen on every channel."""
    from twisted.internet import reactor as twisted_reactor

    reactor: Any = twisted_reactor

    from .db import SchemaError
    from .logs import configure
    from .service import start

    config = _config(config_file)
    configure(config.logging.level)
    try:
        hub = start(config, reactor)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # database unreachable at start, bad endpoint string
        raise click.ClickException(f"cannot start: {type(exc).__name__}: {exc}") from None
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    if not hub.ports and config.channels:
        sys.exit(1)


@main.command("check-config")
@config_option
def check_config(config_file: str | None) -> None:
    """Validate the configuration file and print a summary."""
    config = _config(config_file)
    click.echo(f"ok: {len(config.channels)} channel(s), database {config.database.url.split('://')[0]}")
    for c in config.channels:
        click.echo(f"  {c.name}: {c.protocol} {c.listen} domain={c.domain} processing={','.join(c.processing_ids)}")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: str | None) -> None:
    """Create or migrate the schema to the newest revision."""
    from .db import current_revision, make_engine, upgrade

    config = _config(config_file)
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    before = current_revision(engine)
    upgrade(engine)
    click.echo(f"schema at {current_revision(engine)} (was {before or 'empty'})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for each ACK.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def send(host: str, port: int, timeout: float, files: tuple[Path, ...]) -> None:
    """Send every message in FILES over MLLP; one line per ACK; exit 1 on any AE/AR."""
    from .client import MLLPClient, is_response, iter_files, parse_ack

    try:
        client = MLLPClient(host, port, timeout)
    except OSError as exc:
        raise click.ClickException(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    failed = 0
    try:
        for name, n, message in iter_files(list(files)):
            if is_response(message):  # the hub never acknowledges an ACK or other response
                client.send_only(message)
                click.echo(f"{name}#{n}\t-\t--\tresponse message (MSA): no ACK expected")
                continue
            try:
                ack = parse_ack(client.send(message))
            except (OSError, ConnectionError) as exc:
                raise click.ClickException(f"{name}#{n}: no ACK: {exc}") from None
            failed += ack.code not in ("AA", "CA")
            errs = " | ".join(ack.errors)
            click.echo(f"{name}#{n}\t{ack.control_id or '-'}\t{ack.code}" + (f"\t{errs}" if errs else ""))
    finally:
        client.close()
    sys.exit(1 if failed else 0)


def _engine(config_file: str | None) -> Any:
    from .db import make_engine, schema_state

    config = _config(config_file)
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    if schema_state(engine) != "current":
        raise click.ClickException("the database has no current schema: run `passerelle db upgrade`")
    return engine


@main.group()
def messages() -> None:
    """Inspect the journal of attempts."""


@messages.command("list")
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def messages_list(config_file: str | None, limit: int, as_json: bool) -> None:
    """Latest attempts: control ID, sender, channel, status, ACK code, time."""
    from .queries import list_messages

    rows = list_messages(_engine(config_file), limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'at':25} {'channel':8} {'sender':24} {'control_id':22} {'status':10} ack codes")
    for r in rows:
        click.echo(
            f"{r['at'][:25]:25} {r['channel'][:8]:8} {r['sender'][:24]:24} {r['control_id'][:22]:22} "
            f"{r['status']:10} {r['ack_code']:3} {r['codes']}"
        )


@main.group()
def show() -> None:
    """Show what the repository holds."""


@show.command("patient")
@config_option
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="JSON (the shape is in the README).")
def show_patient(config_file: str | None, identifier: str, as_json: bool) -> None:
    """Everything held for the patient with this identifier (PID-3 value, e.g. an MRN or NAM)."""
    from .queries import find_patients, patient_record

    engine = _engine(config_file)
    found = find_patients(engine, identifier)
    if not found:
        raise click.ClickException("no patient with that identifier / aucun patient avec cet identifiant")
    records = [patient_record(engine, pid) for pid in found]
    if as_json:
        click.echo(json.dumps(records[0] if len(records) == 1 else records, ensure_ascii=False, indent=2))
        return
    for rec in records:
        _print_patient(rec)


def _print_patient(rec: dict[str, Any]) -> None:
    p = rec["patient"]
    ids = ", ".join(f"{i['value']} ({i['authority'] or '?'}{' NAM' if i['is_nam'] else ''})" for i in p["identifiers"])
    click.echo(f"Patient {p['id']}: {p['family']}, {p['given']}  born {p['birth_date'] or '?'}  sex {p['sex'] or '?'}")
    click.echo(f"  identifiers: {ids}")
    for order in rec["lab"]["orders"]:
        c = order["current"]
        number = c["filler_number"] or c["placer_number"]
        click.echo(f"  order {number} {c['code']} {c['code_text']} [{c['status']}] v{c['version']}")
        for obs in order["observations"]:
            o = obs["current"]
            value = o["value_text"].replace("\n", " / ")
            label = f"{o['code']:>10} {o['code_text'][:40]:40}"
            click.echo(f"    {label} {value[:40]} {o['units']} [{o['status']}] v{o['version']}")


def _operator(value: str | None) -> str:
    return value or os.environ.get("PASSERELLE_OPERATOR") or os.environ.get("USER") or "unknown"


operator_option = click.option(
    "--operator", default=None, help="Who makes the change (default: $PASSERELLE_OPERATOR, then $USER)."
)


@main.group()
def partners() -> None:
    """The partner registry: who may link, under the link policy."""


@partners.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def partners_list(config_file: str | None, as_json: bool) -> None:
    """Every partner with its category, product, state and identities."""
    from .partners import list_partners

    rows = list_partners(_engine(config_file))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        product = f"{r['product']['name']} {r['product']['version']}"
        click.echo(f"{r['id']:24} {r['state']:10} {r['category']:22} {','.join(r['domains']):18} {product}")


@partners.command("show")
@config_option
@click.argument("partner_id")
def partners_show(config_file: str | None, partner_id: str) -> None:
    """One partner, with its history of state changes (JSON)."""
    from .partners import history, list_partners

    engine = _engine(config_file)
    found = [r for r in list_partners(engine) if r["id"] == partner_id]
    if not found:
        raise click.ClickException(f"no partner {partner_id!r}")
    click.echo(json.dumps({**found[0], "history": history(engine, partner_id)}, ensure_ascii=False, indent=2))


@partners.command("import")
@config_option
@operator_option
@click.option("--reason", default="import", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def partners_import(config_file: str | None, operator: str | None, reason: str, file: Path) -> None:
    """Add or update partners from a YAML list; a cut partner is never changed. Exit 1 on any refusal."""
    import yaml

    from .partners import RegistryError, import_specs, read_specs

    try:
        specs = read_specs(yaml.safe_load(file.read_text(encoding="utf-8")), file.parent)
    except (RegistryError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    report = import_specs(_engine(config_file), specs, _operator(operator), reason)
    for name in ("added", "updated", "unchanged"):
        for partner_id in getattr(report, name):
            click.echo(f"{name}\t{partner_id}")
    for partner_id, why in report.refused:
        click.echo(f"refused\t{partner_id}\t{why}")
    sys.exit(1 if report.refused else 0)


@partners.command("add")
@config_option
@operator_option
@click.option("--reason", default="added by hand", show_default=True)
@click.option("--id", "partner_id", required=True)
@click.option("--name", required=True)
@click.option("--organization", default="")
@click.option("--category", required=True, type=click.Choice(CATEGORY_NAMES))
@click.option("--domain", "domains", multiple=True, required=True, type=click.Choice(["lab", "pharmacy", "imaging"]))
@click.option("--product", required=True, help="Product name.")
@click.option("--version", "product_version", required=True, help="Product version.")
@click.option("--msh", multiple=True, metavar="APP/FACILITY", help="An (MSH-3, MSH-4) identity; repeatable.")
@click.option("--certificate", multiple=True, metavar="SHA256", help="A TLS client certificate fingerprint.")
def partners_add(config_file: str | None, operator: str | None, reason: str, **f: Any) -> None:
    """Register one partner (an insurer or data vault is cut on arrival, by policy)."""
    from pydantic import ValidationError

    from .partners import PartnerSpec, import_specs, state_of

    identities: list[dict[str, str]] = [{"certificate_sha256": fp} for fp in f["certificate"]]
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
    engine = _engine(config_file)
    with engine.connect() as conn:
        if state_of(conn, spec.id) is not None:
            raise click.ClickException(f"partner {spec.id!r} exists: use `partners import` to change it")
    report = import_specs(engine, [spec], _operator(operator), reason)
    if report.refused:
        raise click.ClickException(f"{spec.id}: {report.refused[0][1]}")
    click.echo(f"added\t{spec.id}")


def _change(config_file: str | None, partner_id: str, action: str, operator: str | None, reason: str) -> None:
    from .partners import RegistryError, change_state

    try:
        state = change_state(_engine(config_file), partner_id, action, _operator(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{partner_id}: {state}")


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


@main.group()
def certify() -> None:
    """Certification campaigns for testers (TGV-style test plans)."""


def _reports(result: Any, folder: Path) -> None:
    """Write the HTML, JSON and JUnit reports; print one line per scenario."""
    from certification.report import to_html, to_json, to_junit

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(to_html(result), encoding="utf-8")
    (folder / "report.json").write_text(to_json(result), encoding="utf-8")
    (folder / "junit.xml").write_bytes(to_junit(result))
    for s in result.scenarios:
        click.echo(f"{s.scenario.id}\t{'PASS' if s.passed else 'FAIL'}\t{s.scenario.title}")
    click.echo(f"reports in {folder}")


@certify.command("run")
@config_option
@click.option("--plan", required=True, help="A plan name (certification/plans/) or a plan file.")
@click.option("--vendor", required=True)
@click.option("--product", required=True)
@click.option("--version", "product_version", required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report folder.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def certify_run(config_file: str | None, out: Path | None, files: tuple[Path, ...], **who: str) -> None:
    """Run recorded traffic against a plan; write HTML, JSON and JUnit reports; certify on success."""
    from certification.campaign import load_plan, run_campaign

    from .certify import certify as issue
    from .certify import journal_run, judge_files

    try:
        test_plan = load_plan(who["plan"])
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    from .client import split_messages

    total = sum(len(split_messages(f.read_bytes())) for f in files)
    vendor, product, product_version = who["vendor"], who["product"], who["product_version"]
    with click.progressbar(judge_files(test_plan, list(files)), length=total, label="messages", file=sys.stderr) as bar:
        result = run_campaign(test_plan, list(bar), (vendor, product, product_version))
    _reports(result, out or Path("reports") / f"{test_plan.name}-{product}-{product_version}")
    engine = _engine(config_file)
    journal_run(engine, result)
    if result.passed:
        cert_id = issue(engine, result)
        click.echo(f"certificate {cert_id}: {product} {product_version} under {test_plan.name}")
    sys.exit(0 if result.passed else 1)


@certify.command("import-profile")
@click.argument("profile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "rule_id", required=True, help="Rule set id, e.g. nist-oru.")
@click.option("--version", "rule_version", required=True)
@click.option("--domain", type=click.Choice(["lab", "pharmacy", "imaging"]), default="lab", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="YAML file to write.")
def certify_import_profile(profile: Path, rule_id: str, rule_version: str, domain: str, out: Path) -> None:
    """Turn a NIST/IGAMT conformance profile (XML) into a rule set (YAML)."""
    import yaml
    from lxml import etree

    from certification.profile_import import import_profile

    try:
        ruleset, hl7_version = import_profile(profile, rule_id, rule_version, domain)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise click.ClickException(f"{profile}: {exc}") from None
    data = ruleset.model_dump(mode="json", exclude_none=True)
    for message in data["messages"].values():
        for constraint in message["fields"].values():
            if constraint.get("usage") == "O" and len(constraint) == 1:
                constraint.clear()
        message["fields"] = {k: v for k, v in message["fields"].items() if v}
    header = f"# Imported from {profile.name} (HL7 {hl7_version}) by `passerelle certify import-profile`.\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    count = sum(len(m["fields"]) for m in data["messages"].values())
    click.echo(f"{out}: {len(data['messages'])} message type(s), {count} field constraints")


@certify.command("open")
@config_option
@click.option("--plan", required=True, help="A plan name (certification/plans/) or a plan file.")
@click.option("--vendor", required=True)
@click.option("--product", required=True)
@click.option("--version", "product_version", required=True)
def certify_open(config_file: str | None, plan: str, vendor: str, product: str, product_version: str) -> None:
    """Open a campaign: the product's traffic on a certification channel lands in it."""
    from certification.campaign import load_plan

    from .certify import open_campaign

    try:
        load_plan(plan)
        campaign_id = open_campaign(_engine(config_file), plan, (vendor, product, product_version))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign_id} open for {product} {product_version} under {plan}")


@certify.command("close")
@config_option
@click.argument("campaign_id", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report folder.")
def certify_close(config_file: str | None, campaign_id: int, out: Path | None) -> None:
    """Judge the campaign's live traffic, write the reports, certify when every scenario passed."""
    from .certify import close_campaign

    try:
        result = close_campaign(_engine(config_file), campaign_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _reports(result, out or Path("reports") / f"campaign-{campaign_id}")
    sys.exit(0 if result.passed else 1)


@certify.command("certificates")
@config_option
@click.option("--json", "as_json", is_flag=True)
def certify_certificates(config_file: str | None, as_json: bool) -> None:
    """The certificates issued, newest first."""
    from .certify import list_certificates

    rows = list_certificates(_engine(config_file))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>4} {r['product']} {r['version']}  {r['plan']}  {r['issued']} -> {r['expires']}")


@main.group()
def journal() -> None:
    """The tamper-evident journal."""


@journal.command("verify")
@config_option
def journal_verify(config_file: str | None) -> None:
    """Walk the hash chain; exit 0 when intact, else name the first broken link and exit 1."""
    from .journal import verify

    broken, count, head = verify(_engine(config_file))
    if broken is not None:
        click.echo(f"broken at entry {broken.seq}: {broken.problem} ({count} entries verified before it)", err=True)
        sys.exit(1)
    click.echo(f"ok: {count} entries, head {head or '-'}")


if __name__ == "__main__":  # pragma: no cover
    main()
