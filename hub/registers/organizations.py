"""The organization register: places and organizations, what they may feed, the codes that name them.

Every change is one transaction holding the organization rows and a chained journal entry
(``organization.import`` for a new one, ``organization.update``) naming the operator and the
reason. A code (kind, value) names one organization only: an import giving another
organization's code is refused, and the database's unique constraint backs the refusal.
Writes bump ``registry_version`` (triggers of migration 0006), so the partner directory reloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update

from hub.governance.journal import ChainWriter
from hub.governance.partners import ImportReport, import_each
from hub.governance.specs import TYPE_DOMAINS, RegistryError
from hub.store.models import Organization, OrganizationCode

from .changes import journal_change, now
from .specs import CODE_KINDS, OrganizationSpec

__all__ = ["import_organizations", "list_organizations", "organization"]

organizations = cast(Table, Organization.__table__)
codes = cast(Table, OrganizationCode.__table__)


def import_organizations(
    engine: Engine, specs: Sequence[OrganizationSpec], operator: str, reason: str = "import"
) -> ImportReport:
    """Add or update organizations and their codes from specs, each in its own transaction.

    A code already held by another organization is refused (the whole entry, with one line).
    """
    return import_each(
        engine,
        specs,
        lambda c, ch, spec: _import_one(c, ch, spec, operator, reason),
        "a code is already held by another organization",
    )


def _import_one(conn: Connection, chain: ChainWriter, spec: OrganizationSpec, operator: str, reason: str) -> str:
    wanted = spec.codes.pairs()
    _refuse_taken(conn, spec.id, wanted)
    current = conn.execute(select(organizations).where(organizations.c.id == spec.id)).first()
    if current is None:
        conn.execute(insert(organizations), {"id": spec.id, "name": spec.name, "type": spec.type, "created_at": now()})
        _add_codes(conn, spec.id, wanted)
        journal_change(chain, "organization.import", spec.id, operator, reason)
        return "added"
    held = {(r.kind, r.value) for r in conn.execute(select(codes).where(codes.c.organization_id == spec.id))}
    if (current.name, current.type) == (spec.name, spec.type) and held == wanted:
        return "unchanged"
    if (current.name, current.type) != (spec.name, spec.type):
        conn.execute(update(organizations).where(organizations.c.id == spec.id).values(name=spec.name, type=spec.type))
    for kind, value in held - wanted:
        conn.execute(codes.delete().where(codes.c.kind == kind, codes.c.value == value))
    _add_codes(conn, spec.id, wanted - held)
    journal_change(chain, "organization.update", spec.id, operator, reason)
    return "updated"


def _refuse_taken(conn: Connection, organization_id: str, wanted: set[tuple[str, str]]) -> None:
    for kind, value in sorted(wanted):
        held = select(codes.c.organization_id).where(codes.c.kind == kind, codes.c.value == value)
        owner = conn.execute(held).first()
        if owner is not None and owner.organization_id != organization_id:
            raise RegistryError(f"{kind} code {value!r} is already held by organization {owner.organization_id!r}")


def _add_codes(conn: Connection, organization_id: str, pairs: set[tuple[str, str]]) -> None:
    for kind, value in sorted(pairs):
        conn.execute(insert(codes), {"organization_id": organization_id, "kind": kind, "value": value})


def _describe(row: Any, held: list[Any]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {kind: [] for kind in CODE_KINDS.values()}
    for code in held:
        grouped.setdefault(code.kind, []).append(code.value)
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "domains": sorted(TYPE_DOMAINS.get(row.type, frozenset())),
        "codes": {kind: sorted(values) for kind, values in grouped.items()},
    }


def list_organizations(engine: Engine) -> list[dict[str, Any]]:
    """Every organization: id, name, type, the domains it may feed (sorted), its codes by kind."""
    with engine.connect() as conn:
        rows = conn.execute(select(organizations).order_by(organizations.c.id)).all()
        held = conn.execute(select(codes).order_by(codes.c.id)).all()
    return [_describe(r, [c for c in held if c.organization_id == r.id]) for r in rows]


def organization(engine: Engine, organization_id: str) -> dict[str, Any] | None:
    """One organization as `list_organizations` gives it, or None when it is not registered."""
    with engine.connect() as conn:
        row = conn.execute(select(organizations).where(organizations.c.id == organization_id)).first()
        if row is None:
            return None
        held = conn.execute(select(codes).where(codes.c.organization_id == organization_id)).all()
    return _describe(row, list(held))
