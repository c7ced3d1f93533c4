"""What arrived: the stored messages, the hash-chained journal and its head."""

from __future__ import annotations

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, code, pk, stamp, text


class Message(Base):
    """An accepted message: raw bytes, the ACK it got, who sent it. Exactly once per key."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("sending_application", "sending_facility", "control_id"),)

    id: Mapped[pk]
    channel: Mapped[text]
    peer: Mapped[text]
    sending_application: Mapped[text]  # MSH-3 raw
    sending_facility: Mapped[text]  # MSH-4 raw
    control_id: Mapped[str] = mapped_column(Text, index=True)  # MSH-10
    message_type: Mapped[text]
    version: Mapped[text]
    charset: Mapped[text]
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    ack: Mapped[bytes] = mapped_column(LargeBinary)
    ack_code: Mapped[str] = mapped_column(String(2))
    warnings: Mapped[text]  # JSON list of the W issues sent in the ACK
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    received_at: Mapped[stamp]
    stored_at: Mapped[stamp]
    partner_id: Mapped[text]  # the partner it was accepted from (migration 0006)


class JournalEntry(Base):
    """Every attempt, accepted or not: what came, from where, what it was answered, why."""

    __tablename__ = "journal"

    id: Mapped[pk]
    at: Mapped[stamp]
    status: Mapped[code]
    channel: Mapped[text]
    peer: Mapped[text]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # not-stored attempts only
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")  # of `raw`, chained with the entry
    sending_application: Mapped[text]
    sending_facility: Mapped[text]
    control_id: Mapped[text]
    message_type: Mapped[text]
    ack_code: Mapped[str] = mapped_column(String(2), default="")
    codes: Mapped[text]  # ERR-3 codes, comma separated
    reason: Mapped[text]  # PHI-free: ERR-2 location and English text per issue
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Migration 0002: the hash chain, link decisions and admin changes.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")
    partner_id: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(32), default="")  # link policy reason code
    operator: Mapped[str] = mapped_column(Text, default="")  # admin changes: who
    # Migration 0007: accesses to a patient's data name the patient, and say who, why and what
    # in `detail` (canonical JSON, no clinical value); both are chained when set.
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class JournalHead(Base):
    """The end of the hash chain: one row, updated in the same transaction as the entries."""

    __tablename__ = "journal_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_journal_control", JournalEntry.sending_application, JournalEntry.control_id)
# Migration 0009: the console's message browser.
Index("ix_journal_control_id", JournalEntry.control_id)
Index("ix_journal_status_id", JournalEntry.status, JournalEntry.id)
Index("ix_journal_ack_code_id", JournalEntry.ack_code, JournalEntry.id)
Index("ix_journal_at", JournalEntry.at)
# Migration 0011: a message's entries, and a patient's messages in the browser.
Index("ix_journal_message_id", JournalEntry.message_id)
