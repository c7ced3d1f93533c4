"""The console's operators, their append-only history, and the signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, stamp, text


class Operator(Base):
    """Someone who runs the hub from the console: a role, an argon2id hash, a TOTP secret, a state."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[text]
    role: Mapped[str] = mapped_column(String(16))  # viewer, operator, admin, privacy, tester
    password_hash: Mapped[text]
    totp_secret: Mapped[text]
    state: Mapped[str] = mapped_column(String(16))  # active, locked, suspended
    failures: Mapped[int] = mapped_column(default=0)  # failed sign-ins in a row
    created_at: Mapped[stamp]


class OperatorEvent(Base):
    """Append-only: every change of an operator and every sign-in attempt."""

    __tablename__ = "operator_events"

    id: Mapped[pk]
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class ConsoleSession(Base):
    """A signed-in session: the SHA-256 of its cookie, its CSRF token, its last use."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's value
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[stamp]
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsoleJob(Base):
    """A bulk action started from the console (a reprocess of a search result) and how far it got."""

    __tablename__ = "console_jobs"

    id: Mapped[pk]
    operator: Mapped[text]
    kind: Mapped[str] = mapped_column(String(16))  # reprocess
    state: Mapped[str] = mapped_column(String(16))  # running, done
    entries: Mapped[text]  # JSON list of the journal entry ids, in the order they are run
    total: Mapped[int]
    done: Mapped[int]
    outcomes: Mapped[text]  # JSON {ACK code: count}
    created_at: Mapped[stamp]
    updated_at: Mapped[stamp]
