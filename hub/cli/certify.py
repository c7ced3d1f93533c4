"""`passerelle certify …`: campaigns, reports and certificates for testers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for


@click.group()
def certify() -> None:
    """Certification campaigns for testers (TGV-style test plans)."""


def _reports(result: Any, folder: Path) -> None:
    """Write the HTML, JSON and JUnit reports; print one line per scenario."""
    from certification.report import to_html, to_json, to_junit
    from hub.store.db import private_file, private_folder

    private_folder(folder)  # reports quote the messages of test traffic
    for name, data in (
        ("report.html", to_html(result).encode("utf-8")),
        ("report.json", to_json(result).encode("utf-8")),
        ("junit.xml", to_junit(result)),
    ):
        private_file(folder / name)
        (folder / name).write_bytes(data)
    for s in result.scenarios:
        echo(f"{s.scenario.id}\t{'PASS' if s.passed else 'FAIL'}\t{s.scenario.title}")
    echo(f"reports in {folder}")


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
    from hub.engine.certify import certify as issue
    from hub.engine.certify import journal_run, judge_files

    try:
        test_plan = load_plan(who["plan"])
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    from hub.hl7.files import split_messages

    total = sum(len(split_messages(f.read_bytes())) for f in files)
    vendor, product, product_version = who["vendor"], who["product"], who["product_version"]
    with click.progressbar(judge_files(test_plan, list(files)), length=total, label="messages", file=sys.stderr) as bar:
        result = run_campaign(test_plan, list(bar), (vendor, product, product_version))
    _reports(result, out or Path("reports") / f"{test_plan.name}-{product}-{product_version}")
    engine = engine_for(config_file)
    journal_run(engine, result)
    if result.passed:
        cert_id = issue(engine, result)
        echo(f"certificate {cert_id}: {product} {product_version} under {test_plan.name}")
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
    echo(f"{out}: {len(data['messages'])} message type(s), {count} field constraints")


@certify.command("open")
@config_option
@click.option("--plan", required=True, help="A plan name (certification/plans/) or a plan file.")
@click.option("--vendor", required=True)
@click.option("--product", required=True)
@click.option("--version", "product_version", required=True)
def certify_open(config_file: str | None, plan: str, vendor: str, product: str, product_version: str) -> None:
    """Open a campaign: the product's traffic on a certification channel lands in it."""
    from certification.campaign import load_plan
    from hub.engine.certify import open_campaign

    try:
        load_plan(plan)
        campaign_id = open_campaign(engine_for(config_file), plan, (vendor, product, product_version))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"campaign {campaign_id} open for {product} {product_version} under {plan}")


@certify.command("close")
@config_option
@click.argument("campaign_id", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report folder.")
def certify_close(config_file: str | None, campaign_id: int, out: Path | None) -> None:
    """Judge the campaign's live traffic, write the reports, certify when every scenario passed."""
    from hub.engine.certify import close_campaign

    try:
        result = close_campaign(engine_for(config_file), campaign_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _reports(result, out or Path("reports") / f"campaign-{campaign_id}")
    sys.exit(0 if result.passed else 1)


@certify.command("certificates")
@config_option
@click.option("--json", "as_json", is_flag=True)
def certify_certificates(config_file: str | None, as_json: bool) -> None:
    """The certificates issued, newest first."""
    from hub.engine.certify import list_certificates

    rows = list_certificates(engine_for(config_file))
    if as_json:
        echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        echo(f"{r['id']:>4} {r['product']} {r['version']}  {r['plan']}  {r['issued']} -> {r['expires']}")
