"""The audit export's outbox: security events waiting for the collector, and who may send them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, text


class AuditOutbox(Base):
    """One security event to export: written in the transaction of its journal entry, sent once."""

    __tablename__ = "audit_outbox"

    id: Mapped[pk]
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # the journal entry it exports
    kind: Mapped[str] = mapped_column(String(32))  # hub/governance/security.py
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class AuditLease(Base):
    """The single row saying which process sends (a lease it renews), so workers and nodes send once."""

    __tablename__ = "audit_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[text]
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
