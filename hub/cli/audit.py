"""`passerelle audit status`: the security events waiting for the ATNA collector."""

from __future__ import annotations

import json

import click

from hub.cli.common import config_option, echo, engine_for, load_config


@click.group()
def audit() -> None:
    """The audit export (IHE ATNA): security events to the collector."""


@audit.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_status(config_file: str | None, as_json: bool) -> None:
    """How many events wait, the oldest of them, the last delivery and which process sends."""
    from hub.engine.export import status

    export = load_config(config_file).audit_export
    state = status(engine_for(config_file)) | {"collector": export.collector if export else None}
    if as_json:
        echo(json.dumps(state, indent=2))
        return
    echo(f"collector: {state['collector'] or 'none configured (events are kept in the outbox)'}")
    echo(f"waiting: {state['waiting']}")
    if state["oldest_waiting"]:
        oldest = state["oldest_waiting"]
        echo(f"oldest waiting: journal entry {oldest['seq']} ({oldest['kind']}) at {oldest['at']}")
    echo(f"last sent: {state['last_sent_at'] or 'never'}")
    echo(f"sender: {state['sender'] or 'none'}")
