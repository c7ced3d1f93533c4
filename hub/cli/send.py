"""`passerelle send`: the MLLP client, one line per ACK."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import echo


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for each ACK.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def send(host: str, port: int, timeout: float, files: tuple[Path, ...]) -> None:
    """Send every message in FILES over MLLP; one line per ACK; exit 1 on any AE/AR."""
    from hub.cli.client import MLLPClient, is_response, iter_files, parse_ack

    try:
        client = MLLPClient(host, port, timeout)
    except OSError as exc:
        raise click.ClickException(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    failed = 0
    try:
        for name, n, message in iter_files(list(files)):
            if is_response(message):  # the hub never acknowledges an ACK or other response
                client.send_only(message)
                echo(f"{name}#{n}\t-\t--\tresponse message (MSA): no ACK expected")
                continue
            try:
                ack = parse_ack(client.send(message))
            except (OSError, ConnectionError) as exc:
                raise click.ClickException(f"{name}#{n}: no ACK: {exc}") from None
            failed += ack.code not in ("AA", "CA")
            errs = " | ".join(ack.errors)
            echo(f"{name}#{n}\t{ack.control_id or '-'}\t{ack.code}" + (f"\t{errs}" if errs else ""))
    finally:
        client.close()
    sys.exit(1 if failed else 0)
