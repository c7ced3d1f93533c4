"""The partner registry and certification: partners, identities, events, certificates, campaigns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, pk, stamp, text


class Partner(Base):
    """A partner system: organization, product and version, category, what it may feed.

    Its state (active, suspended, cut) lives in the append-only `partner_events` table; a cut
    partner's row, identities and events are frozen by database triggers (migration 0002).
    """

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[text]
    organization: Mapped[text]
    category: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[text]
    product_version: Mapped[text]
    domains: Mapped[text]  # JSON list
    channels: Mapped[text]  # JSON list; empty means any channel of its domains
    created_at: Mapped[stamp]
    authorities: Mapped[text]  # JSON list: the PID-3.4 assigning authorities it may assign (0006)


class PartnerIdentity(Base):
    """How a partner is recognized: a TLS certificate fingerprint or an (MSH-3, MSH-4) pair."""

    __tablename__ = "partner_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[pk]
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "certificate" or "msh"
    value: Mapped[text]  # upper-case SHA-256 "AB:CD:..." or "MSH-3.1|MSH-4.1"


class PartnerEvent(Base):
    """Append-only partner state changes; the newest row is the partner's state."""

    __tablename__ = "partner_events"

    id: Mapped[pk]
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # add, import, approve, suspend, cut, update
    state: Mapped[str] = mapped_column(String(16))  # active, suspended, cut
    operator: Mapped[text]
    reason: Mapped[text]
    at: Mapped[stamp]


class Certificate(Base):
    """A passed certification for one product version (issued by a campaign, #3)."""

    __tablename__ = "certificates"

    id: Mapped[pk]
    product_name: Mapped[text]
    product_version: Mapped[text]
    plan: Mapped[text]
    plan_version: Mapped[text]
    issued_at: Mapped[stamp]
    expires_at: Mapped[stamp]


class Campaign(Base):
    """A certification campaign for one product version under one test plan."""

    __tablename__ = "campaigns"

    id: Mapped[pk]
    plan: Mapped[text]  # id-version, or a plan file path
    vendor: Mapped[text]
    product: Mapped[text]
    version: Mapped[text]
    status: Mapped[str] = mapped_column(String(16))  # open, closed
    passed: Mapped[bool | None] = mapped_column(default=None)
    opened_at: Mapped[stamp]
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignMessage(Base):
    """Certification traffic received live: kept here, never in the clinical tables."""

    __tablename__ = "campaign_messages"

    id: Mapped[pk]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    received_at: Mapped[stamp]
    control_id: Mapped[text]
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    answer: Mapped[str] = mapped_column(String(2))
    issues: Mapped[text]  # JSON list
    order_keys: Mapped[text]  # JSON list


class RegistryVersion(Base):
    """One row: bumped by trigger at every write to the partner registry (migration 0005)."""

    __tablename__ = "registry_version"

    id: Mapped[pk]
    version: Mapped[int]
