"""`passerelle operators …`: the console's operators (argon2id passwords, TOTP second step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hub.cli.common import config_option, echo, engine_for, operator_of, operator_option, printable, reason_option

_ROLES = ["viewer", "operator", "admin", "privacy", "tester"]


@click.group()
def operators() -> None:
    """The console's operators."""


def _password(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path is not None else None


def _show(credentials: Any, as_json: bool) -> None:
    if as_json:
        out = {"id": credentials.operator_id, "totp_secret": credentials.totp_secret,
               "otpauth_uri": credentials.otpauth_uri}  # fmt: skip
        if credentials.password is not None:
            out["password"] = credentials.password
        echo(json.dumps(out))
        return
    if credentials.password is not None:
        echo(f"password: {credentials.password}")
    echo(f"TOTP secret: {credentials.totp_secret}")
    echo(f"otpauth URI: {credentials.otpauth_uri}")
    echo("shown once / affiché une seule fois")


@operators.command("add")
@config_option
@operator_option
@click.option("--id", "operator_id", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(_ROLES))
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the password (else one is generated and shown once).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print, once, the TOTP secret and its otpauth:// URI as JSON.")
def operators_add(*, config_file: str | None, operator: str | None, operator_id: str, name: str, role: str,
                  password_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """Create a console operator; prints the TOTP secret (and a generated password) once."""
    from hub.governance.specs import RegistryError
    from hub.registers.operators import add

    try:
        made = add(engine_for(config_file), operator_id, name, role, password=_password(password_file),
                   actor=operator_of(operator))  # fmt: skip
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    _show(made, as_json)


@operators.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def operators_list(config_file: str | None, as_json: bool) -> None:
    """Every operator: role, state, failed sign-ins in a row."""
    from hub.registers.operators import list_operators

    rows = list_operators(engine_for(config_file))
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        echo(printable(f"{r['id']:20} {r['role']:9} {r['state']:10} {r['failures']} {r['name']}"))


def _change(config_file: str | None, operator: str | None, operator_id: str, action: str, reason: str) -> None:
    from hub.governance.specs import RegistryError
    from hub.registers.operators import change

    if not reason.strip():
        raise click.ClickException("a reason is required: --reason TEXT")
    try:
        echo(f"{operator_id}: {change(engine_for(config_file), operator_id, action, operator_of(operator), reason)}")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


@operators.command("suspend")
@config_option
@operator_option
@reason_option
@click.argument("operator_id")
def operators_suspend(config_file: str | None, operator: str | None, reason: str, operator_id: str) -> None:
    """Suspend an operator (their sessions end)."""
    _change(config_file, operator, operator_id, "suspend", reason)


@operators.command("unlock")
@config_option
@operator_option
@reason_option
@click.argument("operator_id")
def operators_unlock(config_file: str | None, operator: str | None, reason: str, operator_id: str) -> None:
    """Unlock a locked (or suspended) operator."""
    _change(config_file, operator, operator_id, "unlock", reason)


@operators.command("reset")
@config_option
@operator_option
@reason_option
@click.argument("operator_id")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def operators_reset(*, config_file: str | None, operator: str | None, reason: str, operator_id: str,
                    password_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """A new password and TOTP secret, shown once; the account is unlocked."""
    from hub.governance.specs import RegistryError
    from hub.registers.operators import reset

    try:
        made = reset(engine_for(config_file), operator_id, _password(password_file), operator_of(operator), reason)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    _show(made, as_json)
