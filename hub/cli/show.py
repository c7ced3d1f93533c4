"""`passerelle show`: what the repository holds for a patient."""

from __future__ import annotations

import json
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option


@click.group()
def show() -> None:
    """Show what the repository holds."""


@show.command("patient")
@config_option
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@operator_option
def show_patient(config_file: str | None, identifier: str, as_json: bool, operator: str | None) -> None:
    """Everything held for the patient with this identifier (PID-3 value, e.g. an MRN or NAM); journaled."""
    from hub.registers.patients import record_access
    from hub.store.queries import find_patients, patient_record

    engine = engine_for(config_file)
    found = find_patients(engine, identifier)
    if not found:
        raise click.ClickException("no patient with that identifier / aucun patient avec cet identifiant")
    records = [patient_record(engine, pid) for pid in found]
    subject = f"patient {', '.join(map(str, found))}"
    record_access(engine, "access.patient", subject, operator_of(operator), tuple(found))
    if as_json:
        echo(json.dumps(records[0] if len(records) == 1 else records, ensure_ascii=False, indent=2))
        return
    for rec in records:
        _print_patient(rec)


def _print_patient(rec: dict[str, Any]) -> None:
    p = rec["patient"]
    ids = ", ".join(f"{i['authority'] or '?'}:{i['value']}{' (NAM)' if i['is_nam'] else ''}" for i in p["identifiers"])
    echo(f"Patient {p['id']}: {p['family']}, {p['given']}  born {p['birth_date'] or '?'}  sex {p['sex'] or '?'}")
    echo(f"  identifiers: {ids}")
    if p.get("merged"):
        echo(f"  merged into it: {', '.join(f'patient {m}' for m in p['merged'])}")
    for v in p.get("history", []):
        born = v["birth_date"] or "?"
        echo(f"  v{v['version']} {v['family']}, {v['given']}  born {born}  sex {v['sex'] or '?'}  {v['address']}")
    for order in rec["lab"]["orders"]:
        c = order["current"]
        number = c["filler_number"] or c["placer_number"]
        echo(f"  order {number} {c['code']} {c['code_text']} [{c['status']}] v{c['version']}")
        for obs in order["observations"]:
            o = obs["current"]
            value = o["value_text"].replace("\n", " / ")
            label = f"{o['code']:>10} {o['code_text'][:40]:40}"
            echo(f"    {label} {value[:40]} {o['units']} [{o['status']}] v{o['version']}")
    for med in rec["pharmacy"]["medications"]:
        drug = med["drug"]
        flag = "" if drug["recognized"] else " (code not recognized)"
        kinds = ", ".join(e["kind"] for e in med["events"])
        echo(f"  medication {drug['system'] or '?'} {drug['code']}{flag} {drug['name'][:40]} [{med['status']}]")
        echo(f"    events: {kinds}")
    imaging = rec["imaging"]
    for order in imaging["orders"]:
        c = order["current"]
        echo(f"  imaging order {c['accession'] or order['key']} {c['code']} {c['code_text']} {c['modality']}")
    for report in imaging["reports"]:
        c = report["current"]
        docs = f" +{len(c['documents'])} document(s)" if c["documents"] else ""
        history = f" (history: {', '.join(h['status'] for h in report['history'])})" if report["history"] else ""
        echo(f"  imaging report {c['accession'] or report['key']} [{c['status']}] v{c['version']}{docs}{history}")
    for study in imaging["studies"]:
        links = len(study["linked_orders"]) + len(study["linked_reports"])
        echo(
            f"  study {study['study_uid']} {'/'.join(study['modalities'])} {study['series_count']} series, "
            f"{study['instance_count']} instance(s), linked to {links} order(s)/report(s)"
        )
