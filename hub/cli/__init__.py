"""The `passerelle` command line (click). Errors a person sees are one line, no stack trace."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from hub.cli.certify import certify
from hub.cli.common import config_option, engine_for, load_config
from hub.cli.partners import journal, partners


@click.group()
def main() -> None:
    """Passerelle: an HL7 v2 integration hub for a provincial shared health record."""


@main.command()
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
    from hub.logs import configure
    from hub.store.db import SchemaError

    config = load_config(config_file)
    configure(config.logging.level)
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


@main.command("check-config")
@config_option
def check_config(config_file: str | None) -> None:
    """Validate the configuration file and print a summary."""
    config = load_config(config_file)
    click.echo(f"ok: {len(config.channels)} channel(s), database {config.database.url.split('://')[0]}")
    for c in config.channels:
        click.echo(f"  {c.name}: {c.protocol} {c.listen} domain={c.domain} processing={','.join(c.processing_ids)}")


@main.group()
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


@main.command()
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
                click.echo(f"{name}#{n}\t-\t--\tresponse message (MSA): no ACK expected")
                continue
            try:
                ack = parse_ack(client.send(message))
            except (OSError, ConnectionError) as exc:
                raise click.ClickException(f"{name}#{n}: no ACK: {exc}") from None
            failed += ack.code not in ("AA", "CA")
            errs = " | ".join(ack.errors)
            click.echo(f"{name}#{n}\t{ack.control_id or '-'}\t{ack.code}" + (f"\t{errs}" if errs else ""))
    finally:
        client.close()
    sys.exit(1 if failed else 0)


@main.group()
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
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'at':25} {'channel':8} {'sender':24} {'control_id':22} {'status':10} ack codes")
    for r in rows:
        click.echo(
            f"{r['at'][:25]:25} {r['channel'][:8]:8} {r['sender'][:24]:24} {r['control_id'][:22]:22} "
            f"{r['status']:10} {r['ack_code']:3} {r['codes']}"
        )


@main.group()
def show() -> None:
    """Show what the repository holds."""


@show.command("patient")
@config_option
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="JSON (the shape is in the README).")
def show_patient(config_file: str | None, identifier: str, as_json: bool) -> None:
    """Everything held for the patient with this identifier (PID-3 value, e.g. an MRN or NAM)."""
    from hub.store.queries import find_patients, patient_record

    engine = engine_for(config_file)
    found = find_patients(engine, identifier)
    if not found:
        raise click.ClickException("no patient with that identifier / aucun patient avec cet identifiant")
    records = [patient_record(engine, pid) for pid in found]
    if as_json:
        click.echo(json.dumps(records[0] if len(records) == 1 else records, ensure_ascii=False, indent=2))
        return
    for rec in records:
        _print_patient(rec)


def _print_patient(rec: dict[str, Any]) -> None:
    p = rec["patient"]
    ids = ", ".join(f"{i['value']} ({i['authority'] or '?'}{' NAM' if i['is_nam'] else ''})" for i in p["identifiers"])
    click.echo(f"Patient {p['id']}: {p['family']}, {p['given']}  born {p['birth_date'] or '?'}  sex {p['sex'] or '?'}")
    click.echo(f"  identifiers: {ids}")
    for order in rec["lab"]["orders"]:
        c = order["current"]
        number = c["filler_number"] or c["placer_number"]
        click.echo(f"  order {number} {c['code']} {c['code_text']} [{c['status']}] v{c['version']}")
        for obs in order["observations"]:
            o = obs["current"]
            value = o["value_text"].replace("\n", " / ")
            label = f"{o['code']:>10} {o['code_text'][:40]:40}"
            click.echo(f"    {label} {value[:40]} {o['units']} [{o['status']}] v{o['version']}")
    for med in rec["pharmacy"]["medications"]:
        drug = med["drug"]
        flag = "" if drug["recognized"] else " (code not recognized)"
        kinds = ", ".join(e["kind"] for e in med["events"])
        click.echo(f"  medication {drug['system'] or '?'} {drug['code']}{flag} {drug['name'][:40]} [{med['status']}]")
        click.echo(f"    events: {kinds}")
    imaging = rec["imaging"]
    for order in imaging["orders"]:
        c = order["current"]
        click.echo(f"  imaging order {c['accession'] or order['key']} {c['code']} {c['code_text']} {c['modality']}")
    for report in imaging["reports"]:
        c = report["current"]
        docs = f" +{len(c['documents'])} document(s)" if c["documents"] else ""
        history = f" (history: {', '.join(h['status'] for h in report['history'])})" if report["history"] else ""
        click.echo(f"  imaging report {c['accession'] or report['key']} [{c['status']}] v{c['version']}{docs}{history}")
    for study in imaging["studies"]:
        links = len(study["linked_orders"]) + len(study["linked_reports"])
        click.echo(
            f"  study {study['study_uid']} {'/'.join(study['modalities'])} {study['series_count']} series, "
            f"{study['instance_count']} instance(s), linked to {links} order(s)/report(s)"
        )


@main.group()
def dicom() -> None:
    """DICOM objects for the imaging domain."""


@dicom.command("import")
@config_option
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def dicom_import(config_file: str | None, files: tuple[Path, ...]) -> None:
    """Import DICOM Part 10 files: metadata and SR text, never pixel data. Exit 1 if any failed."""
    import getpass

    from hub.engine.dicom import import_dicom

    engine = engine_for(config_file)
    source = f"cli:{getpass.getuser()}"
    failed = 0
    for path in files:
        result = import_dicom(engine, path.read_bytes(), channel="dicom-import", source=source)
        if result.ok:
            click.echo(f"{result.status.value:10} {path}: study {result.study_uid}, {result.text}")
        else:
            failed += 1
            click.echo(f"{result.status.value:10} {path}: {result.text}", err=True)
    if failed:
        raise SystemExit(1)


main.add_command(partners)
main.add_command(journal)
main.add_command(certify)


if __name__ == "__main__":  # pragma: no cover
    main()
