"""`passerelle refusals …`, `passerelle access-list`, `passerelle surveillance report`: the patient's rights."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option, printable, reason_option

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def refusals() -> None:
    """The register of refusals: a patient refuses that their information be released."""


@refusals.command("add")
@config_option
@operator_option
@click.option("--patient", "nam", required=True, help="The patient's NAM (or AUTHORITY:VALUE).")
@click.option("--all", "total", is_flag=True, help="Everything is withheld.")
@click.option("--before", type=_DAY, help="What was collected before this day (YYYY-MM-DD) is withheld.")
@click.option("--means", type=click.Choice(["written", "phone", "portal", "in-person"]), required=True)
@click.option("--system", required=True, help="The system that recorded the refusal.")
@click.option("--reason", required=True, help="Why, in a few words (journaled).")
def refusals_add(
    config_file: str | None, operator: str | None, nam: str, total: bool, before: datetime | None, **rest: Any
) -> None:
    """Record a refusal (--all, or --before a day); prints its number."""
    from hub.governance.specs import RegistryError
    from hub.registers.refusals import add

    if total == (before is not None):
        raise click.UsageError("give exactly one of --all or --before YYYY-MM-DD")
    day: date | None = before.date() if before is not None else None
    try:
        number = add(engine_for(config_file), nam, before=day, operator=operator_of(operator), **rest)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"refusal {number} recorded / refus {number} inscrit")


@refusals.command("withdraw")
@config_option
@operator_option
@reason_option
@click.argument("number", type=int)
def refusals_withdraw(config_file: str | None, operator: str | None, reason: str, number: int) -> None:
    """Withdraw refusal NUMBER; final (a new refusal gets a new number)."""
    from hub.governance.specs import RegistryError
    from hub.registers.refusals import withdraw

    if not reason.strip():
        raise click.ClickException("a reason is required: --reason TEXT")
    try:
        withdraw(engine_for(config_file), number, operator_of(operator), reason.strip())
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"refusal {number} withdrawn / refus {number} retiré")


@refusals.command("list")
@config_option
@click.option("--patient", "nam", help="One patient's, by NAM.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def refusals_list(config_file: str | None, nam: str | None, as_json: bool) -> None:
    """The register, oldest first."""
    from hub.governance.specs import RegistryError
    from hub.registers.refusals import list_refusals

    try:
        rows = list_refusals(engine_for(config_file), nam)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        scope = "all" if r["scope"] == "all" else f"before {r['before']}"
        state = "in force" if r["in_force"] else f"withdrawn {r['withdrawn_at'][:10]}"
        echo(printable(f"{r['number']:>5} patient {r['patient_id']} {scope:18} {r['means']:9} {r['system']} [{state}]"))


@click.command("access-list")
@config_option
@operator_option
@click.argument("nam", metavar="NAM")
@click.option("--since", type=_DAY, help="From this day on (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def access_list(config_file: str | None, operator: str | None, nam: str, since: datetime | None, as_json: bool) -> None:
    """Who accessed the information of the patient holding NAM (or AUTHORITY:VALUE); journaled too."""
    from hub.consult.audit import access_list as read

    start = since.replace(tzinfo=UTC) if since is not None else None
    try:
        rows = read(engine_for(config_file), nam, start, operator_of(operator))
    except LookupError:
        raise click.ClickException("no patient holds that NAM / aucun usager ne porte ce NAM") from None
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        echo("no access / aucun accès")
    for r in rows:
        echo(printable(_access_line(r)))


def _access_line(r: dict[str, Any]) -> str:
    person = r["practitioner"]
    who = (
        f"{person['name']} ({person['profession']}, licence {person['licence']})"
        if person
        else f"operator {r['operator'] or '?'}"
    )
    org = r["organization"]["name"] if r["organization"] else "-"
    system = r["system"]["name"] if r["system"] else "command line"
    withheld = " (some withheld)" if r["withheld"] else ""
    return f"{r['at'][:19]}  {who}  {org}  via {system}: {r['consulted']}{withheld}"


@click.group()
def surveillance() -> None:
    """Consultation is monitored: refused requests and emergency access."""


@surveillance.command("report")
@config_option
@click.option("--since", type=_DAY, help="From this day on (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def surveillance_report(config_file: str | None, since: datetime | None, as_json: bool) -> None:
    """The security events of consultation, grouped by practitioner and system."""
    from hub.consult.audit import surveillance_report as report

    rows = report(engine_for(config_file), since.replace(tzinfo=UTC) if since is not None else None)
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        echo("no security event / aucun événement de sécurité")
    for g in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in g["reasons"].items())
        echo(printable(f"{g['practitioner'] or '?':24} {g['system'] or '?':24} {g['events']:>5}  {reasons}"))
