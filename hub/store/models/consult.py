"""The read side's own tables: the register of refusals and the signed requests already seen.

A refusal is never deleted: `refusals` and `refusal_withdrawals` are append-only (database
triggers, migration 0007), and a refusal is in force while it has no withdrawal.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, stamp, text


class Refusal(Base):
    """One refusal of the register: the patient, its scope, how and where it was expressed."""

    __tablename__ = "refusals"

    id: Mapped[pk]  # the refusal's unique number
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scope: Mapped[str] = mapped_column(String(8))  # "all", or "before" a date
    before: Mapped[text]  # YYYY-MM-DD when scope is "before"
    means: Mapped[str] = mapped_column(String(16))  # written, phone, portal, in-person
    system: Mapped[text]  # the system that recorded it
    reason: Mapped[text]
    operator: Mapped[text]
    recorded_at: Mapped[stamp]


class RefusalWithdrawal(Base):
    """The withdrawal of one refusal: at most one per refusal."""

    __tablename__ = "refusal_withdrawals"

    id: Mapped[pk]
    refusal_id: Mapped[int] = mapped_column(ForeignKey("refusals.id"), unique=True)
    operator: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class ConsultToken(Base):
    """A signed request's `jti`, kept until its token expires: a second use is a replay."""

    __tablename__ = "consult_tokens"
    __table_args__ = (UniqueConstraint("partner_id", "jti"),)

    id: Mapped[pk]
    partner_id: Mapped[str] = mapped_column(Text)
    jti: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[stamp]


Index("ix_consult_tokens_expires_at", ConsultToken.expires_at)
