"""`passerelle db`: the schema (alembic migrations, run from code)."""

from __future__ import annotations

import click

from hub.cli.common import config_option, load_config


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: str | None) -> None:
    """Create or migrate the schema to the newest revision."""
    from hub.store.db import current_revision, make_engine, upgrade

    config = load_config(config_file)
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    before = current_revision(engine)
    upgrade(engine)
    click.echo(f"schema at {current_revision(engine)} (was {before or 'empty'})")
