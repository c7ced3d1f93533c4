"""The `passerelle` command line (click), one module per command group.

Errors a person sees are one line, no stack trace.
"""

from __future__ import annotations

import click

from hub.cli.audit import audit
from hub.cli.certify import certify
from hub.cli.consult import access_list, refusals, surveillance
from hub.cli.db import db
from hub.cli.dicom import dicom
from hub.cli.messages import messages
from hub.cli.operators import operators
from hub.cli.organizations import organizations
from hub.cli.partners import journal, partners
from hub.cli.patients import patients
from hub.cli.practitioners import practitioners
from hub.cli.send import send
from hub.cli.serve import check_config, serve
from hub.cli.show import show

__all__ = ["main"]


@click.group()
def main() -> None:
    """Passerelle: an HL7 v2 integration hub for a provincial shared health record."""


for command in (serve, check_config, db, send, messages, show, dicom, certify):
    main.add_command(command)
for command in (partners, organizations, practitioners, patients, journal, refusals, access_list, surveillance):
    main.add_command(command)
for command in (operators, audit):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
