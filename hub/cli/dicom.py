"""`passerelle dicom`: DICOM objects for the imaging domain."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.common import config_option, echo, engine_for


@click.group()
def dicom() -> None:
    """DICOM objects for the imaging domain."""


@dicom.command("import")
@config_option
@click.option(
    "--organization", default="", help="The organization that issued the accession numbers, when the files don't say."
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def dicom_import(config_file: str | None, organization: str, files: tuple[Path, ...]) -> None:
    """Import DICOM Part 10 files: metadata and SR text, never pixel data. Exit 1 if any failed."""
    import getpass

    from hub.engine.dicom import import_dicom

    engine = engine_for(config_file)
    source = f"cli:{getpass.getuser()}"
    failed = 0
    for path in files:
        result = import_dicom(
            engine, path.read_bytes(), channel="dicom-import", source=source, organization=organization
        )
        if result.ok:
            echo(f"{result.status.value:10} {path}: study {result.study_uid}, {result.text}")
        else:
            failed += 1
            echo(f"{result.status.value:10} {path}: {result.text}", err=True)
    if failed:
        raise SystemExit(1)
