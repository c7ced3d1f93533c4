"""The partner registry: declarative import, approve / suspend / cut, certificates.

Every change is one transaction holding the partner rows, an append-only `partner_events` row
and a chained journal entry naming the operator and the reason. A cut is final: the code
refuses to undo it, and the database triggers of migration 0002 refuse it to anyone else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.governance.journal import ChainWriter
from hub.governance.specs import (
    DOMAINS,
    Category,
    IdentitySpec,
    PartnerSpec,
    Product,
    RegistryError,
    msh_key,
    read_specs,
)
from hub.store.models import Certificate, Organization, Partner, PartnerEvent, PartnerIdentity, RegistryVersion

__all__ = [
    "DOMAINS",
    "Category",
    "IdentitySpec",
    "ImportReport",
    "PartnerSpec",
    "Product",
    "RegistryError",
    "change_state",
    "history",
    "import_each",
    "import_specs",
    "issue_certificate",
    "list_partners",
    "msh_key",
    "read_specs",
    "state_of",
]

partners = cast(Table, Partner.__table__)
identities = cast(Table, PartnerIdentity.__table__)
events = cast(Table, PartnerEvent.__table__)
certificates = cast(Table, Certificate.__table__)
registry_version = cast(Table, RegistryVersion.__table__)
organizations = cast(Table, Organization.__table__)


@dataclass
class ImportReport:
    """What an import did, partner by partner."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def state_of(conn: Connection, partner_id: str) -> str | None:
    """The partner's current state, or None when it is not registered."""
    row = conn.execute(
        select(events.c.state).where(events.c.partner_id == partner_id).order_by(events.c.id.desc()).limit(1)
    ).first()
    return row.state if row else None


def _journal_change(chain: ChainWriter, partner_id: str, action: str, operator: str, reason: str) -> None:
    chain.append(
        {
            "at": _now(),
            "status": f"partner.{action}",
            "channel": "",
            "peer": "",
            "sha256": "",
            "size": 0,
            "partner_id": partner_id,
            "operator": operator,
            "reason": reason,
        }
    )


def _event(conn: Connection, chain: ChainWriter, pid: str, change: tuple[str, str], who: tuple[str, str]) -> None:
    """Append a state change (action, new state) made by (operator, reason), and journal it."""
    (action, state), (operator, reason) = change, who
    row = {"partner_id": pid, "action": action, "state": state, "operator": operator, "reason": reason}
    conn.execute(insert(events), {**row, "at": _now()})
    _journal_change(chain, pid, action, operator, reason)


def import_each(
    engine: Engine,
    entries: Sequence[Any],
    one: Callable[[Connection, ChainWriter, Any], str],
    duplicate: str,
) -> ImportReport:
    """Import each register entry in its own transaction with its journal entries; what became of each.

    `one` returns "added", "updated" or "unchanged", or raises RegistryError; a unique key the
    database refuses is refused with the `duplicate` text.
    """
    report = ImportReport()
    for entry in entries:
        try:
            with engine.begin() as conn:
                chain = ChainWriter(conn)
                outcome = one(conn, chain, entry)
                chain.close()
            getattr(report, outcome).append(entry.id)
        except RegistryError as exc:
            report.refused.append((entry.id, str(exc)))
        except (IntegrityError, DBAPIError) as exc:
            report.refused.append((entry.id, _db_reason(exc, duplicate)))
    return report


def import_specs(engine: Engine, specs: list[PartnerSpec], operator: str, reason: str = "import") -> ImportReport:
    """Add or update partners from specs, each in its own transaction.

    A cut partner is never changed (not reinstated, not edited); an identity already held by
    another partner (a cut one included) is refused; insurers and data vaults are cut on arrival.
    """
    duplicate = "an identity is already held by another partner (cut partners keep theirs)"
    return import_each(engine, specs, lambda c, ch, spec: _import_one(c, ch, spec, operator, reason), duplicate)


def _db_reason(exc: DBAPIError, duplicate: str) -> str:
    text = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    if "UNIQUE" in text.upper() or "duplicate key" in text:
        return duplicate
    return text


def _import_one(conn: Connection, chain: ChainWriter, spec: PartnerSpec, operator: str, reason: str) -> str:
    values = {
        "name": spec.name,
        "organization": spec.organization,
        "category": spec.category,
        "product_name": spec.product.name,
        "product_version": spec.product.version,
        "domains": json.dumps(spec.domains),
        "channels": json.dumps(spec.channels),
        "authorities": json.dumps(spec.authorities),
    }
    if conn.execute(select(organizations.c.id).where(organizations.c.id == spec.organization)).first() is None:
        raise RegistryError(f"{spec.id}: organization {spec.organization!r} is not in the organization register")
    state = state_of(conn, spec.id)
    wanted = {i.key() for i in spec.identities}
    if state == "cut":
        raise RegistryError(f"{spec.id} is cut: a cut partner can't be re-imported or changed")
    if state is None:
        conn.execute(insert(partners), {"id": spec.id, **values, "created_at": _now()})
        _add_identities(conn, spec.id, wanted)
        _event(conn, chain, spec.id, ("import", "active"), (operator, reason))
        _cut_by_policy(conn, chain, spec)
        return "added"
    current = conn.execute(select(partners).where(partners.c.id == spec.id)).one()._mapping
    held = {(r.kind, r.value) for r in conn.execute(select(identities).where(identities.c.partner_id == spec.id))}
    if all(current[k] == v for k, v in values.items()) and held == wanted:
        return "unchanged"
    conn.execute(update(partners).where(partners.c.id == spec.id).values(**values))
    for kind, value in held - wanted:
        conn.execute(identities.delete().where(identities.c.kind == kind, identities.c.value == value))
    _add_identities(conn, spec.id, wanted - held)
    _journal_change(chain, spec.id, "update", operator, reason)
    _cut_by_policy(conn, chain, spec)
    return "updated"


def _add_identities(conn: Connection, partner_id: str, keys: set[tuple[str, str]]) -> None:
    for kind, value in sorted(keys):
        conn.execute(insert(identities), {"partner_id": partner_id, "kind": kind, "value": value})


def _cut_by_policy(conn: Connection, chain: ChainWriter, spec: PartnerSpec) -> None:
    if spec.category in ("insurer", "data-vault"):
        _event(conn, chain, spec.id, ("cut", "cut"), ("policy", f"category {spec.category}: links cut irreversibly"))


def change_state(engine: Engine, partner_id: str, action: str, operator: str, reason: str) -> str:
    """Approve (-> active), suspend (-> suspended) or cut (-> cut, final).

    Raises:
        RegistryError: unknown partner, or any change to a cut partner.
    """
    target = {"approve": "active", "suspend": "suspended", "cut": "cut"}[action]
    if not reason.strip():
        raise RegistryError("a reason is required")
    with engine.begin() as conn:
        state = state_of(conn, partner_id)
        if state is None:
            raise RegistryError(f"no partner {partner_id!r}")
        if state == "cut":
            raise RegistryError(f"{partner_id} is cut: the cut is irreversible")
        chain = ChainWriter(conn)
        _event(conn, chain, partner_id, (action, target), (operator, reason))
        chain.close()
    return target


def issue_certificate(
    engine: Engine,
    product: tuple[str, str],
    plan: tuple[str, str],
    validity: tuple[datetime, datetime],
    operator: str = "certification",
) -> int:
    """Store a certificate for (product, version) under (plan, plan version), valid (from, until).

    Called by a campaign whose scenarios all passed (#3); journaled in the chain.
    """
    (product_name, product_version), (plan_name, plan_version), (issued_at, expires_at) = product, plan, validity
    with engine.begin() as conn:
        cert_id = conn.execute(
            insert(certificates).returning(certificates.c.id),
            {
                "product_name": product_name,
                "product_version": product_version,
                "plan": plan_name,
                "plan_version": plan_version,
                "issued_at": issued_at,
                "expires_at": expires_at,
            },
        ).scalar_one()
        chain = ChainWriter(conn)
        chain.append(
            {
                "at": _now(),
                "status": "certificate.issued",
                "channel": "",
                "peer": "",
                "sha256": "",
                "size": 0,
                "operator": operator,
                "reason": f"{product_name} {product_version}: {plan_name} {plan_version} until {expires_at.date()}",
            }
        )
        chain.close()
    return int(cert_id)


def list_partners(engine: Engine) -> list[dict[str, Any]]:
    """Every partner with its state and identities."""
    with engine.connect() as conn:
        rows = conn.execute(select(partners).order_by(partners.c.id)).all()
        idents = conn.execute(select(identities)).all()
        out = []
        for r in rows:
            out.append(
                {
                    "id": r.id,
                    "name": r.name,
                    "organization": r.organization,
                    "category": r.category,
                    "product": {"name": r.product_name, "version": r.product_version},
                    "domains": json.loads(r.domains),
                    "channels": json.loads(r.channels),
                    "authorities": json.loads(r.authorities),
                    "state": state_of(conn, r.id),
                    "identities": [{"kind": i.kind, "value": i.value} for i in idents if i.partner_id == r.id],
                }
            )
        return out


def history(engine: Engine, partner_id: str) -> list[dict[str, Any]]:
    """The partner's state changes, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(events).where(events.c.partner_id == partner_id).order_by(events.c.id)).all()
    return [
        {"at": r.at.isoformat(), "action": r.action, "state": r.state, "operator": r.operator, "reason": r.reason}
        for r in rows
    ]
