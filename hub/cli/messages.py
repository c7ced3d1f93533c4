"""`passerelle messages`: the journal of attempts."""

from __future__ import annotations

import json

import click

from hub.cli.common import config_option, echo, engine_for


@click.group()
def messages() -> None:
    """Inspect the journal of attempts."""


@messages.command("list")
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def messages_list(config_file: str | None, limit: int, as_json: bool) -> None:
    """Latest attempts: control ID, sender, channel, status, ACK code, time."""
    from hub.store.queries import list_messages

    rows = list_messages(engine_for(config_file), limit)
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    echo(f"{'at':25} {'channel':8} {'sender':24} {'control_id':22} {'status':10} ack codes")
    for r in rows:
        echo(
            f"{r['at'][:25]:25} {r['channel'][:8]:8} {r['sender'][:24]:24} {r['control_id'][:22]:22} "
            f"{r['status']:10} {r['ack_code']:3} {r['codes']}"
        )
