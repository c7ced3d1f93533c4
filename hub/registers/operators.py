"""Console operators, admin side: add, list, suspend, unlock, reset.

A password is kept as an argon2id hash (argon2-cffi), the second step is a TOTP secret (pyotp,
RFC 6238). Five failed sign-ins in a row lock the account until an admin unlocks it. Every change
is a row of the append-only `operator_events` and a chained journal entry naming who made it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, Table, insert, select, update

from hub.governance.journal import ChainWriter
from hub.governance.specs import RegistryError
from hub.store.models import Operator, OperatorEvent

from .changes import journal_change, now

operators = cast(Table, Operator.__table__)
events = cast(Table, OperatorEvent.__table__)

ROLES = ("viewer", "operator", "admin", "privacy", "tester")
ISSUER = "Passerelle"
MIN_PASSWORD = 12
HASHER = PasswordHasher()  # argon2id with argon2-cffi's current defaults


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a new (or reset) operator is given once: the password if generated, the TOTP secret and URI."""

    operator_id: str
    password: str | None
    totp_secret: str
    otpauth_uri: str


def event(
    conn: Connection, chain: ChainWriter, operator_id: str, action: str, *, actor: str, reason: str, peer: str = ""
) -> None:
    """One history row and its journal entry, in the caller's transaction (`peer`: a sign-in's address)."""
    conn.execute(insert(events), {"operator_id": operator_id, "action": action, "actor": actor, "reason": reason,
                                  "at": now()})  # fmt: skip
    journal_change(chain, f"operator.{action}"[:20], operator_id, actor, reason, peer=peer)


def _secrets(operator_id: str, password: str | None) -> tuple[str, str | None, str, str]:
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(18)
    if len(password) < MIN_PASSWORD:
        raise RegistryError(f"a password needs {MIN_PASSWORD} characters or more")
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=operator_id, issuer_name=ISSUER)
    return HASHER.hash(password), generated, secret, uri


def add(engine: Engine, operator_id: str, name: str, role: str, *, password: str | None, actor: str) -> Credentials:
    """Create an active operator; the password is generated when none is given."""
    if role not in ROLES:
        raise RegistryError(f"role must be one of {', '.join(ROLES)}")
    digest, generated, secret, uri = _secrets(operator_id, password)
    with engine.begin() as conn:
        if conn.execute(select(operators.c.id).where(operators.c.id == operator_id)).first():
            raise RegistryError(f"operator {operator_id!r} exists")
        row = {"id": operator_id, "name": name, "role": role, "password_hash": digest, "totp_secret": secret}
        conn.execute(insert(operators), row | {"state": "active", "failures": 0, "created_at": now()})
        chain = ChainWriter(conn)
        event(conn, chain, operator_id, "add", actor=actor, reason=f"role {role}")
        chain.close()
    return Credentials(operator_id, generated, secret, uri)


def change(engine: Engine, operator_id: str, action: str, actor: str, reason: str) -> str:
    """Suspend or unlock (which also reinstates a suspended operator); the new state."""
    state = {"suspend": "suspended", "unlock": "active"}[action]
    with engine.begin() as conn:
        _current(conn, operator_id)
        conn.execute(update(operators).where(operators.c.id == operator_id).values(state=state, failures=0))
        chain = ChainWriter(conn)
        event(conn, chain, operator_id, action, actor=actor, reason=reason)
        chain.close()
    return state


def reset(engine: Engine, operator_id: str, password: str | None, actor: str, reason: str) -> Credentials:
    """A new password and a new TOTP secret; the account is unlocked."""
    digest, generated, secret, uri = _secrets(operator_id, password)
    with engine.begin() as conn:
        _current(conn, operator_id)
        values = {"password_hash": digest, "totp_secret": secret, "state": "active", "failures": 0}
        conn.execute(update(operators).where(operators.c.id == operator_id).values(**values))
        chain = ChainWriter(conn)
        event(conn, chain, operator_id, "reset", actor=actor, reason=reason)
        chain.close()
    return Credentials(operator_id, generated, secret, uri)


def _current(conn: Connection, operator_id: str) -> Any:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    if row is None:
        raise RegistryError(f"no operator {operator_id!r}")
    return row


def list_operators(engine: Engine) -> list[dict[str, Any]]:
    """Every operator: id, name, role, state, failures in a row (never a hash or a secret)."""
    with engine.connect() as conn:
        rows = conn.execute(select(operators).order_by(operators.c.id)).all()
    return [
        {"id": r.id, "name": r.name, "role": r.role, "state": r.state, "failures": r.failures,
         "created_at": r.created_at.isoformat()}
        for r in rows
    ]  # fmt: skip
