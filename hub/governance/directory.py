"""Step 2, authorize: who is sending, and may it link? Plus the per-peer refusal limiter.

The directory is an in-memory snapshot of the registry, refreshed by the writer thread when
the registry or the certificates change (one small query per batch), so a decision costs a
few dictionary look-ups.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from hub.governance.partners import PartnerSpec, certificates, events, identities, msh_key, organizations, partners
from hub.governance.policy import LinkPolicy, in_force, load_policies
from hub.governance.specs import TYPE_DOMAINS

# The registry's version: every write to partners, identities, events or certificates bumps it
# (a trigger, migration 0005). Read once per batch, inside the writer's own transaction.
MARK_SQL = 'SELECT "version" FROM "registry_version" WHERE "id" = 1'


@dataclass(frozen=True, slots=True)
class Ruling:
    """A link decision: allowed or not, for which partner, and the reason code."""

    allowed: bool
    reason: str
    partner_id: str = ""
    mark: tuple[Any, ...] | None = None  # the registry version the decision was made at


@dataclass(frozen=True, slots=True)
class PartnerView:
    """What a decision needs to know about one partner."""

    id: str
    category: str
    state: str
    product: tuple[str, str]
    domains: frozenset[str]
    channels: frozenset[str]
    msh: frozenset[str]
    certificates: frozenset[str]
    authorities: tuple[str, ...] = ()  # PID-3.4 authorities it may assign, the default first
    organization_type: str | None = None  # None: its organization is not in the register
    organization: str = ""  # its organization's id in the register
    keys: tuple[str, ...] = ()  # PEM public keys it signs consultation requests with


@dataclass
class Snapshot:
    """The registry at one point in time."""

    mark: tuple[Any, ...] | None = None  # the registry version it was loaded at
    partners: dict[str, PartnerView] = field(default_factory=dict)
    by_identity: dict[tuple[str, str], str] = field(default_factory=dict)
    certified: dict[tuple[str, str], datetime] = field(default_factory=dict)  # product -> latest expiry


class PartnerDirectory:
    """Decides every link; reloads from the repository when it changed."""

    def __init__(
        self,
        policies: list[LinkPolicy] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policies = policies if policies is not None else load_policies()
        self.clock = clock
        self.snapshot = Snapshot()
        self._mark: tuple[Any, ...] | None = None
        self._lock = threading.Lock()  # the writer and DICOM import threads both refresh
        self._watch: tuple[Engine, Any, str] | None = None  # engine, its driver connection, the SQL

    @classmethod
    def from_specs(
        cls,
        specs: list[PartnerSpec],
        certified: dict[tuple[str, str], datetime] | None = None,
        organization_types: dict[str, str] | None = None,
    ) -> PartnerDirectory:
        """A directory without a database (tests, one-shot tools): every spec active.

        `organization_types` maps organization ids to their type, as the register would.
        """
        directory = cls()
        snap = Snapshot(certified=dict(certified or {}))
        types = organization_types or {}
        for spec in specs:
            keys = [i.key() for i in spec.identities]
            state = "cut" if spec.category in ("insurer", "data-vault") else "active"
            snap.partners[spec.id] = PartnerView(
                spec.id, spec.category, state, (spec.product.name, spec.product.version), frozenset(spec.domains),
                frozenset(spec.channels), frozenset(v for k, v in keys if k == "msh"),
                frozenset(v for k, v in keys if k == "certificate"), tuple(spec.authorities),
                types.get(spec.organization), spec.organization, tuple(v for k, v in keys if k == "public_key"),
            )  # fmt: skip
            for key in keys:
                snap.by_identity[key] = spec.id
        directory.snapshot = snap
        return directory

    def refresh(self, engine: Engine) -> bool:
        """Reload when partners, identities, states or certificates changed; True if reloaded.

        The check runs once per batch, so it keeps its own driver connection in autocommit: one
        round trip, no pool checkout, no transaction (an SQLAlchemy transaction on SQLite would
        take the write lock: BEGIN IMMEDIATE, see hub/store/db.py). The connection is dropped on any
        error and opened afresh next time.
        """
        with self._lock:
            mark = self._read_mark(engine)
            if mark == self._mark:
                return False
            with engine.connect() as conn:
                snapshot = _load(conn)
            snapshot.mark = mark  # read before the load: a change in between only reloads once more
            self.snapshot, self._mark = snapshot, mark
            return True

    def mark_sql(self, dialect: Any) -> str:
        """The change mark's query as SQL text for this dialect, for a writer's own transaction."""
        return MARK_SQL

    def is_current(self, mark: tuple[Any, ...]) -> bool:
        """Whether the snapshot was loaded at this change mark (read inside a writer's transaction)."""
        return mark == self._mark

    def _read_mark(self, engine: Engine) -> tuple[Any, ...]:
        if self._watch is None or self._watch[0] is not engine:
            raw = engine.raw_connection()
            driver = raw.driver_connection
            if engine.dialect.name == "postgresql":
                driver.autocommit = True  # type: ignore[union-attr]
            self._watch = (engine, raw, MARK_SQL)
        _engine, raw, sql = self._watch
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        except Exception:
            self._watch = None
            raw.invalidate()
            raise
        assert row is not None
        return tuple(row)

    def authorize(
        self,
        application: str,
        facility: str,
        fingerprint: str,
        channel: str,
        domain: str,
        *,
        certification: bool = False,
    ) -> Ruling:
        """The link decision for one message (MSH-3.1, MSH-4.1, TLS fingerprint, channel).

        On a certification channel a partner that needs a certificate may link without one:
        it is there to earn it. Every other check stays. The ruling names the registry version
        of the snapshot it was made with, for the writer to check inside its transaction.
        """
        snap = self.snapshot
        ruling = self._decide(snap, (application, facility, fingerprint), channel, domain, certification=certification)
        return replace(ruling, mark=snap.mark)

    def _decide(
        self, snap: Snapshot, sender: tuple[str, str, str], channel: str, domain: str, *, certification: bool
    ) -> Ruling:
        application, facility, fingerprint = sender
        key = msh_key(application, facility)
        by_msh = snap.by_identity.get(("msh", key))
        by_cert = snap.by_identity.get(("certificate", fingerprint.upper())) if fingerprint else None
        if fingerprint and by_cert is None:
            return Ruling(False, "unknown-certificate")
        if by_cert and by_msh and by_cert != by_msh:
            return Ruling(False, "identity-mismatch", by_cert)
        partner_id = by_cert or by_msh
        if partner_id is None:
            return Ruling(False, "unknown-sender")
        p = snap.partners[partner_id]
        if by_cert and key not in p.msh:  # a certificate vouches only for its partner's own MSH-3/MSH-4
            return Ruling(False, "identity-mismatch", partner_id)
        if not fingerprint and p.certificates:
            return Ruling(False, "tls-required", partner_id)
        return self._policy(snap, p, channel, domain, certification=certification)

    def authorize_certificate(self, fingerprint: str, channel: str, domain: str) -> Ruling:
        """The link decision for traffic that carries no MSH (a DICOM object): the TLS certificate alone."""
        snap = self.snapshot
        if not fingerprint:
            return Ruling(False, "tls-required", mark=snap.mark)
        partner_id = snap.by_identity.get(("certificate", fingerprint.upper()))
        if partner_id is None:
            return Ruling(False, "unknown-certificate", mark=snap.mark)
        ruling = self._policy(snap, snap.partners[partner_id], channel, domain, certification=False)
        return replace(ruling, mark=snap.mark)

    def authorize_system(self, partner_id: str, fingerprint: str, channel: str, domain: str) -> Ruling:
        """The link decision for a consulting system named by its signed request's `iss`.

        Over TLS the client certificate must be one of that partner's; on a plain (loopback)
        channel the signature alone identifies it, and the caller checks it against `view`'s keys.
        """
        snap = self.snapshot
        p = snap.partners.get(partner_id)
        if p is None:
            return Ruling(False, "unknown-system", mark=snap.mark)
        if fingerprint and snap.by_identity.get(("certificate", fingerprint.upper())) != partner_id:
            return Ruling(False, "identity-mismatch", partner_id, mark=snap.mark)
        return replace(self._policy(snap, p, channel, domain, certification=False), mark=snap.mark)

    def view(self, partner_id: str) -> PartnerView | None:
        """What the directory knows of one partner, or None."""
        return self.snapshot.partners.get(partner_id)

    def authorities_of(self, partner_id: str) -> tuple[str, ...]:
        """The assigning authorities a partner may use in PID-3.4, its default first."""
        p = self.snapshot.partners.get(partner_id)
        return p.authorities if p else ()

    def product_of(self, partner_id: str) -> tuple[str, str]:
        """(product, version) of a partner, or empty strings."""
        p = self.snapshot.partners.get(partner_id)
        return p.product if p else ("", "")

    def _policy(self, snap: Snapshot, p: PartnerView, channel: str, domain: str, *, certification: bool) -> Ruling:
        now = self.clock()
        try:
            policy = in_force(self.policies, now.date())
        except LookupError:
            return Ruling(False, "no-policy", p.id)
        rule = policy.rule(p.category)
        if p.state == "cut" or rule == "cut":
            return Ruling(False, "cut", p.id)
        if p.state == "suspended":
            return Ruling(False, "suspended", p.id)
        if rule == "refuse":
            return Ruling(False, "category-refused", p.id)
        if rule == "certified" and certification:
            pass  # certification traffic: the certificate is what the campaign decides
        elif rule == "certified":
            expiry = snap.certified.get(p.product)
            if expiry is None:
                return Ruling(False, "uncertified", p.id)
            if expiry <= now:
                return Ruling(False, "certificate-expired", p.id)
        if p.organization_type is None:
            return Ruling(False, "unknown-organization", p.id)
        if domain not in p.domains or domain not in TYPE_DOMAINS.get(p.organization_type, ()):
            return Ruling(False, "domain-not-allowed", p.id)
        if p.channels and channel not in p.channels:
            return Ruling(False, "channel-not-allowed", p.id)
        return Ruling(True, "allowed-certified" if rule == "certified" else "allowed", p.id)


def _load(conn: Any) -> Snapshot:
    snap = Snapshot()
    states: dict[str, str] = {}
    for row in conn.execute(select(events.c.partner_id, events.c.state).order_by(events.c.id)):
        states[row.partner_id] = row.state
    idents: dict[str, list[tuple[str, str]]] = {}
    for row in conn.execute(select(identities)):
        idents.setdefault(row.partner_id, []).append((row.kind, row.value))
        snap.by_identity[(row.kind, row.value)] = row.partner_id
    types = {row.id: row.type for row in conn.execute(select(organizations.c.id, organizations.c.type))}
    for row in conn.execute(select(partners)):
        keys = idents.get(row.id, [])
        snap.partners[row.id] = PartnerView(
            row.id, row.category, states.get(row.id, "active"), (row.product_name, row.product_version),
            frozenset(json.loads(row.domains)), frozenset(json.loads(row.channels)),
            frozenset(v for k, v in keys if k == "msh"), frozenset(v for k, v in keys if k == "certificate"),
            tuple(json.loads(row.authorities)), types.get(row.organization), row.organization,
            tuple(v for k, v in keys if k == "public_key"),
        )  # fmt: skip
    for row in conn.execute(select(certificates)):
        expiry = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        product = (row.product_name, row.product_version)
        snap.certified[product] = max(expiry, snap.certified.get(product, expiry))
    return snap
