"""What every `passerelle` subcommand shares: the --config option, the config, the engine."""

from __future__ import annotations

import os
import re
from typing import Any

import click

from hub.config import Config, ConfigError, config_path, load

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but TAB and LF


def operator_of(value: str | None) -> str:
    """Who makes a change or views data: --operator, else $PASSERELLE_OPERATOR, else $USER."""
    return value or os.environ.get("PASSERELLE_OPERATOR") or os.environ.get("USER") or "unknown"


operator_option = click.option(
    "--operator", default=None, help="Who makes the change (default: $PASSERELLE_OPERATOR, then $USER)."
)
# Not `required=True`: click would answer a missing --reason with its usage; the register
# functions refuse an empty reason themselves, in one line.
reason_option = click.option("--reason", default="", help="Why (journaled; required).")


def printable(text: str) -> str:
    """`text` with its control characters shown as ``\\xNN``: a stored value never drives the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def echo(text: str = "", *, err: bool = False) -> None:
    """click.echo for text that holds stored or received values: control characters are shown, not sent."""
    click.echo(printable(text), err=err)


def load_config(path: str | None) -> Config:
    """The validated config, or a one-line error for the person at the terminal."""
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


def engine_for(config_file: str | None) -> Any:
    """An engine on a database whose schema is current, or a one-line error naming the fix."""
    from hub.store.db import make_engine, schema_state

    config = load_config(config_file)
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    if schema_state(engine) != "current":
        raise click.ClickException("the database has no current schema: run `passerelle db upgrade`")
    return engine
