"""`passerelle serve` and `check-config`: run the hub, validate its configuration."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from typing import Any

import click

from hub.cli.common import config_option, load_config


@click.command()
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Reactor processes sharing the listening sockets (tcp: endpoints).",
)
def serve(config_file: str | None, workers: int) -> None:
    """Run the hub: create the schema on an empty database, listen on every channel."""
    if workers > 1:
        # Before anything imports prometheus-client: each worker writes its metrics there, and a
        # scrape of any of them sums them all (hub/metrics.py).
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="passerelle-metrics-")
        from hub.engine.workers import WorkersError, run
        from hub.logs import configure

        config = load_config(config_file)
        configure(config.logging.level)
        try:
            sys.exit(run(config, workers))
        except (WorkersError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
    from twisted.internet import reactor as twisted_reactor

    reactor: Any = twisted_reactor

    from hub.engine.service import start
    from hub.logs import configure, route_twisted
    from hub.store.db import SchemaError

    config = load_config(config_file)
    configure(config.logging.level)
    route_twisted()
    try:
        hub = start(config, reactor)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # database unreachable at start, bad endpoint string
        raise click.ClickException(f"cannot start: {type(exc).__name__}: {exc}") from None
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    if hub.failed:
        sys.exit(1)


@click.command("check-config")
@config_option
def check_config(config_file: str | None) -> None:
    """Validate the configuration file and print a summary."""
    config = load_config(config_file)
    click.echo(f"ok: {len(config.channels)} channel(s), database {config.database.url.split('://')[0]}")
    for c in config.channels:
        feeds = c.protocol in ("mllp", "soap")  # fhir, metrics and console feed nothing
        intake = f" processing={','.join(c.processing_ids)} ruleset={c.ruleset}" if feeds else ""
        domain = f" domain={c.domain}" if c.domain else ""
        emergency = " emergency" if c.emergency else ""
        click.echo(f"  {c.name}: {c.protocol} {c.listen}{domain}{intake}{emergency}{' tls' if c.tls else ''}")
    for c in config.channels:
        if not c.validates and c.protocol in ("mllp", "soap"):
            click.echo(f"warning: channel {c.name}: ruleset: none, its messages are not validated", err=True)
        if c.tls is None and c.allow_plaintext:
            click.echo(f"warning: channel {c.name}: plain text on a non-loopback interface (allow_plaintext)", err=True)
