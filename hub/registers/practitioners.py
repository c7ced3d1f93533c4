"""The practitioner register (intervenants): licence and order, where they practise, their keys, their state.

Every change is one transaction holding the practitioner row, an append-only
``practitioner_events`` row (the newest is the state) and a chained journal entry naming the
operator and the reason, with status ``practitioner.<action>``: add, import, update, suspend,
revoke; a reinstatement is journaled ``practitioner.restore`` (``journal.status`` is
VARCHAR(20) and "practitioner.reinstate" has 22 characters), its event keeps the action
``reinstate``.

A revocation is final, like a cut partner: no command reinstates a revoked practitioner, and an
import refuses to change one. The state a spec gives applies when the practitioner is added; an
update changes the other fields and leaves the state to `change_state` (so the declarative
import of config.yaml at each start never undoes an operator's suspension). A licence (order,
licence) names one practitioner only, and every organization named must be registered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update

from hub.governance.journal import ChainWriter
from hub.governance.partners import ImportReport, import_each
from hub.governance.specs import RegistryError
from hub.store.models import Organization, Practitioner, PractitionerEvent

from .changes import journal_change, now
from .specs import PractitionerSpec

__all__ = ["ACTIONS", "change_state", "import_practitioners", "list_practitioners", "practitioner", "state_of"]

practitioners = cast(Table, Practitioner.__table__)
events = cast(Table, PractitionerEvent.__table__)
organizations = cast(Table, Organization.__table__)

# action -> (the states it applies to, the state it gives)
ACTIONS = {
    "suspend": (frozenset({"active"}), "suspended"),
    "revoke": (frozenset({"active", "suspended"}), "revoked"),
    "reinstate": (frozenset({"suspended"}), "active"),
}
STATUS = {"reinstate": "restore"}  # journal status suffixes that differ from the action


def state_of(conn: Connection, practitioner_id: str) -> str | None:
    """The practitioner's current state, or None when they are not registered."""
    row = conn.execute(
        select(events.c.state).where(events.c.practitioner_id == practitioner_id).order_by(events.c.id.desc()).limit(1)
    ).first()
    return row.state if row else None


def _event(conn: Connection, chain: ChainWriter, pid: str, change: tuple[str, str], who: tuple[str, str]) -> None:
    """Append a change (action, resulting state) made by (operator, reason), and journal it."""
    (action, state), (operator, reason) = change, who
    row = {"practitioner_id": pid, "action": action, "state": state, "operator": operator, "reason": reason}
    conn.execute(insert(events), {**row, "at": now()})
    journal_change(chain, f"practitioner.{STATUS.get(action, action)}", pid, operator, reason)


def import_practitioners(
    engine: Engine,
    specs: Sequence[PractitionerSpec],
    operator: str,
    reason: str = "import",
    *,
    action: Literal["add", "import"] = "import",
) -> ImportReport:
    """Add or update practitioners from specs, each in its own transaction.

    `action` is what a new practitioner's first event is called (`add`: by hand). A revoked
    practitioner is never changed; a licence held by another practitioner, or an organization
    that is not registered, refuses the entry.
    """
    return import_each(
        engine,
        specs,
        lambda c, ch, spec: _import_one(c, ch, spec, (action, operator, reason)),
        "the licence is already held by another practitioner",
    )


def _values(spec: PractitionerSpec) -> dict[str, str]:
    return {
        "licence": spec.licence,
        "licence_order": spec.order,
        "family": spec.family,
        "given": spec.given,
        "profession": spec.profession,
        "organizations": json.dumps(spec.organizations),
        "certificates": json.dumps(spec.certificates),
        "nam": spec.nam or "",
    }


def _check(conn: Connection, spec: PractitionerSpec) -> None:
    for org in spec.organizations:
        if conn.execute(select(organizations.c.id).where(organizations.c.id == org)).first() is None:
            raise RegistryError(f"organization {org!r} is not in the organization register")
    holder = conn.execute(
        select(practitioners.c.id).where(
            practitioners.c.licence_order == spec.order, practitioners.c.licence == spec.licence
        )
    ).first()
    if holder is not None and holder.id != spec.id:
        raise RegistryError(f"licence {spec.order} {spec.licence} is already held by practitioner {holder.id!r}")


def _import_one(conn: Connection, chain: ChainWriter, spec: PractitionerSpec, how: tuple[str, str, str]) -> str:
    action, operator, reason = how
    state = state_of(conn, spec.id)
    if state == "revoked":
        raise RegistryError(f"{spec.id} is revoked: a revoked practitioner can't be re-imported or changed")
    _check(conn, spec)
    values = _values(spec)
    if state is None:
        conn.execute(insert(practitioners), {"id": spec.id, **values, "created_at": now()})
        _event(conn, chain, spec.id, (action, spec.state), (operator, reason))
        return "added"
    current = conn.execute(select(practitioners).where(practitioners.c.id == spec.id)).one()._mapping
    if all(current[k] == v for k, v in values.items()):
        return "unchanged"
    conn.execute(update(practitioners).where(practitioners.c.id == spec.id).values(**values))
    _event(conn, chain, spec.id, ("update", state), (operator, reason))
    return "updated"


def change_state(engine: Engine, practitioner_id: str, action: str, operator: str, reason: str) -> str:
    """Suspend (-> suspended), revoke (-> revoked, final) or reinstate (suspended -> active).

    Raises:
        RegistryError: unknown action or practitioner, no reason, a change to a revoked
            practitioner, or a change that does not apply to the current state.
    """
    if action not in ACTIONS:
        raise RegistryError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if not reason or not reason.strip():
        raise RegistryError("a reason is required")
    applies_to, target = ACTIONS[action]
    with engine.begin() as conn:
        state = state_of(conn, practitioner_id)
        if state is None:
            raise RegistryError(f"no practitioner {practitioner_id!r}")
        if state == "revoked":
            raise RegistryError(f"{practitioner_id} is revoked: the revocation is final")
        if state not in applies_to:
            raise RegistryError(f"{practitioner_id} is {state}: {action} does not apply")
        chain = ChainWriter(conn)
        _event(conn, chain, practitioner_id, (action, target), (operator, reason))
        chain.close()
    return target


def _describe(conn: Connection, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "licence": row.licence,
        "order": row.licence_order,
        "family": row.family,
        "given": row.given,
        "profession": row.profession,
        "organizations": json.loads(row.organizations),
        "certificates": json.loads(row.certificates),
        "nam": row.nam or None,
        "state": state_of(conn, row.id),
    }


def list_practitioners(engine: Engine) -> list[dict[str, Any]]:
    """Every practitioner with their state."""
    with engine.connect() as conn:
        rows = conn.execute(select(practitioners).order_by(practitioners.c.id)).all()
        return [_describe(conn, r) for r in rows]


def practitioner(engine: Engine, practitioner_id: str) -> dict[str, Any] | None:
    """One practitioner with their history of changes (oldest first), or None when not registered."""
    with engine.connect() as conn:
        row = conn.execute(select(practitioners).where(practitioners.c.id == practitioner_id)).first()
        if row is None:
            return None
        found = _describe(conn, row)
        history = conn.execute(
            select(events).where(events.c.practitioner_id == practitioner_id).order_by(events.c.id)
        ).all()
    found["history"] = [
        {"at": r.at.isoformat(), "action": r.action, "state": r.state, "operator": r.operator, "reason": r.reason}
        for r in history
    ]
    return found
