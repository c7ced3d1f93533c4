"""Console sign-in and sessions: argon2id password, TOTP code, five failures lock, 15 minutes idle.

A session is a random cookie (HttpOnly, SameSite=Strict, Secure over TLS) whose SHA-256 is the
row's key; the row holds the CSRF token every POST must carry. Sessions live in the database, so
every worker of ``serve --workers N`` knows them. Every sign-in, failure and lock is journaled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Table, delete, insert, select, update

from hub.governance.journal import ChainWriter
from hub.registers.operators import event
from hub.store.models import ConsoleSession, Operator

sessions = cast(Table, ConsoleSession.__table__)
operators = cast(Table, Operator.__table__)
IDLE = timedelta(minutes=15)
LOCK_AFTER = 5
COOKIE = "passerelle_session"
_HASHER = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: who, their role and name, the CSRF token."""

    operator_id: str
    role: str
    name: str
    csrf: str


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


def sign_in(
    conn: Connection, username: str, password: str, code: str, now: datetime, *, peer: str = ""
) -> tuple[str | None, str]:
    """(the new session's cookie value, "") or (None, why); journaled either way, with the peer's address."""
    chain = ChainWriter(conn)
    row = conn.execute(select(operators).where(operators.c.id == username[:64])).first()
    reason = _refusal(row, password, code)
    if row is None:
        chain.append({"at": now, "status": "console.signin-fail", "operator": username[:64], "reason": "unknown",
                      "peer": peer, "sha256": "", "size": 0})  # fmt: skip
        chain.close()
        return None, "identifiants refusés / sign-in refused"
    if reason:
        failures = row.failures + 1 if row.state == "active" else row.failures
        state = "locked" if failures >= LOCK_AFTER else row.state
        conn.execute(update(operators).where(operators.c.id == row.id).values(failures=failures, state=state))
        event(conn, chain, row.id, "signin-fail", actor=row.id, reason=reason, peer=peer)
        if state == "locked" and row.state != "locked":
            event(
                conn, chain, row.id, "locked", actor=row.id, reason=f"{LOCK_AFTER} failed sign-ins in a row", peer=peer
            )
        chain.close()
        if state == "locked":
            return None, "compte verrouillé : un admin doit le déverrouiller / account locked: an admin must unlock it"
        return None, "identifiants refusés / sign-in refused"
    cookie = secrets.token_urlsafe(32)
    conn.execute(update(operators).where(operators.c.id == row.id).values(failures=0))
    conn.execute(insert(sessions), {"id": _key(cookie), "operator_id": row.id, "csrf": secrets.token_urlsafe(24),
                                    "created_at": now, "last_seen": now})  # fmt: skip
    event(conn, chain, row.id, "signin", actor=row.id, reason="console")
    chain.close()
    return cookie, ""


def _refusal(row: Any, password: str, code: str) -> str:
    """Why a sign-in is refused ("" when it is not)."""
    if row is None:
        return "unknown"
    if row.state != "active":
        return str(row.state)
    try:
        _HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return "password"
    if not pyotp.TOTP(row.totp_secret).verify(code.strip(), valid_window=1):
        return "code"
    return ""


def current(conn: Connection, cookie: str | None, now: datetime) -> Session | None:
    """The live session of this cookie (and its use recorded), or None: absent, idle too long, operator not active."""
    if not cookie:
        return None
    found = conn.execute(
        select(sessions.c.id, sessions.c.csrf, sessions.c.last_seen, operators.c.id.label("op"), operators.c.role,
               operators.c.name, operators.c.state)
        .join(operators, operators.c.id == sessions.c.operator_id)
        .where(sessions.c.id == _key(cookie))
    ).first()  # fmt: skip
    if found is None:
        return None
    seen = found.last_seen if found.last_seen.tzinfo else found.last_seen.replace(tzinfo=UTC)
    if found.state != "active" or now - seen > IDLE:
        conn.execute(delete(sessions).where(sessions.c.id == found.id))
        return None
    conn.execute(update(sessions).where(sessions.c.id == found.id).values(last_seen=now))
    return Session(found.op, found.role, found.name, found.csrf)


def end(conn: Connection, cookie: str, operator_id: str, now: datetime) -> None:
    """Sign out: the session row goes, the journal says so."""
    conn.execute(delete(sessions).where(sessions.c.id == _key(cookie)))
    chain = ChainWriter(conn)
    chain.append({"at": now, "status": "console.signout", "operator": operator_id, "reason": "console", "sha256": "",
                  "size": 0})  # fmt: skip
    chain.close()
