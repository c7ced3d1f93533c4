"""`passerelle patients …`: the held messages (recherche non concluante), resolve, merge, unmerge."""

from __future__ import annotations

import json
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option, printable, reason_option


@click.group()
def patients() -> None:
    """The patient register: held messages, merges."""


@patients.command("unresolved")
@config_option
@operator_option
@click.option("--all", "show_all", is_flag=True, help="Resolved entries too.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def patients_unresolved(config_file: str | None, operator: str | None, show_all: bool, as_json: bool) -> None:
    """Messages and DICOM objects held because their patient could not be told for certain (journaled)."""
    from hub.registers.patients import list_unresolved

    rows = list_unresolved(engine_for(config_file), operator_of(operator), open_only=not show_all)
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        echo("nothing held / rien en attente")
    for row in rows:
        echo(_line(row))


def _line(row: dict[str, Any]) -> str:
    detail = row["detail"]
    what = f"message {row['message_id']}" if row["message_id"] is not None else f"DICOM {row['dicom_instance_id']}"
    if "identifiers" in detail:
        sent = ", ".join(f"{i['value']} ({i['authority']})" for i in detail["identifiers"])
        candidates = ", ".join(str(c) for c in detail.get("candidates", [])) or "none"
    else:
        dicom = detail.get("dicom", {})
        sent = f"Patient ID {dicom.get('patient_id', '')} ({dicom.get('issuer') or '?'})"
        candidates = str(detail.get("order_patient"))
    state = row["state"] if row["state"] == "open" else f"{row['state']} -> patient {row['patient_id']}"
    return printable(f"{row['id']:>5} {row['reason']:18} {what}: sent {sent}; candidates {candidates} [{state}]")


@patients.command("resolve")
@config_option
@operator_option
@reason_option
@click.argument("hold_id", type=int)
@click.option("--patient", "patient_id", type=int, required=True, help="The patient it is about.")
def patients_resolve(config_file: str | None, operator: str | None, reason: str, hold_id: int, patient_id: int) -> None:
    """File a held message or DICOM object under a patient (journaled)."""
    from hub.governance.specs import RegistryError
    from hub.registers.patients import resolve

    try:
        filled = resolve(engine_for(config_file), hold_id, patient_id, operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"unresolved {hold_id}: filed under patient {patient_id} ({filled} record(s))")


@patients.command("merge")
@config_option
@operator_option
@reason_option
@click.option("--survivor", type=int, required=True, help="The patient that remains.")
@click.option("--merged", type=int, required=True, help="The patient merged into it.")
def patients_merge(config_file: str | None, operator: str | None, reason: str, survivor: int, merged: int) -> None:
    """Merge one patient into another (journaled); records stay readable under the survivor."""
    from hub.governance.specs import RegistryError
    from hub.registers.patients import merge

    try:
        merge(engine_for(config_file), survivor, merged, operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"patient {merged} merged into {survivor}")


@patients.command("unmerge")
@config_option
@operator_option
@reason_option
@click.option("--merged", type=int, required=True, help="The patient to take back out.")
def patients_unmerge(config_file: str | None, operator: str | None, reason: str, merged: int) -> None:
    """Undo a merge (journaled): the patient and its own records stand apart again."""
    from hub.governance.specs import RegistryError
    from hub.registers.patients import unmerge

    try:
        survivor = unmerge(engine_for(config_file), merged, operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    echo(f"patient {merged} taken back out of {survivor}")
