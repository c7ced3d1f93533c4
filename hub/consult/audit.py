"""Who accessed a patient's information, and the security events of consultation.

Both read the journal: an access is an entry naming the patient (``journal.patient_id``) whose
status is one of `ACCESSES`; its `detail` says who asked, for what and what was released. The
names come from the registers (practitioners, organizations, partners) at the time of reading.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import JournalEntry, Organization, Partner, Practitioner

from .fhir import instant

ACCESSES = (
    "consult", "consult.withheld", "consult.emergency", "access.patient", "access.unresolved", "access.list",
    "access.message", "access.console",
)  # fmt: skip
SECURITY = ("consult.denied", "consult.emergency")
PRACTITIONER_SYSTEM = "urn:passerelle:practitioner"
_COMMANDS = {
    "access.patient": "show patient", "access.unresolved": "patients unresolved", "access.list": "access-list",
    "access.message": "console: message", "access.console": "console: patient",
}  # fmt: skip


def accesses(s: Session, patient_ids: list[int], since: datetime | None = None) -> list[dict[str, Any]]:
    """The accesses to these patients' information, oldest first, with who, where and what."""
    query = (
        select(JournalEntry)
        .where(JournalEntry.patient_id.in_(patient_ids), JournalEntry.status.in_(ACCESSES))
        .order_by(JournalEntry.seq)
    )
    if since is not None:
        query = query.where(JournalEntry.at >= since)
    rows = list(s.scalars(query))
    names = _names(s, rows)
    out = []
    for r in rows:
        d = json.loads(r.detail or "{}")
        person = names["practitioners"].get(d.get("practitioner", ""))
        out.append(
            {
                "seq": r.seq,
                "at": r.at.isoformat(),
                "status": r.status,
                "practitioner": person,
                "operator": r.operator or None,
                "organization": names["organizations"].get(d.get("organization", "")),
                "system": names["partners"].get(r.partner_id) if r.partner_id else None,
                "purpose": d.get("purpose", ""),
                "consulted": _what(r, d),
                "released": d.get("released"),
                "withheld": bool(d.get("withheld")),
            }
        )
    return out


def _what(r: JournalEntry, d: dict[str, Any]) -> str:
    if r.status in _COMMANDS:
        return _COMMANDS[r.status]
    if d.get("interaction") == "everything":
        return "Patient/$everything"
    return f"{d.get('type', '')} {d.get('interaction', '')}".strip()


def _names(s: Session, rows: list[JournalEntry]) -> dict[str, dict[str, Any]]:
    details = [json.loads(r.detail or "{}") for r in rows]
    ids = {d.get("practitioner") for d in details} - {None}
    orgs = {d.get("organization") for d in details} - {None}
    partners = {r.partner_id for r in rows if r.partner_id}
    out: dict[str, dict[str, Any]] = {"practitioners": {}, "organizations": {}, "partners": {}}
    for p in s.scalars(select(Practitioner).where(Practitioner.id.in_(sorted(ids)))):
        out["practitioners"][p.id] = {
            "id": p.id, "name": f"{p.given} {p.family}".strip(), "profession": p.profession,
            "licence": p.licence, "order": p.licence_order,
        }  # fmt: skip
    for o in s.scalars(select(Organization).where(Organization.id.in_(sorted(orgs)))):
        out["organizations"][o.id] = {"id": o.id, "name": o.name}
    for partner in s.scalars(select(Partner).where(Partner.id.in_(sorted(partners)))):
        out["partners"][partner.id] = {"id": partner.id, "name": partner.name}
    return out


def audit_events(s: Session, patient_ids: list[int], base: str) -> list[dict[str, Any]]:
    """The access list as FHIR AuditEvent resources."""
    return [_event(a, patient_ids[0]) for a in accesses(s, patient_ids)]


def _event(a: dict[str, Any], patient_id: int) -> dict[str, Any]:
    person, org, system = a["practitioner"], a["organization"], a["system"]
    agents: list[dict[str, Any]] = []
    if person is not None:
        who = {"identifier": {"system": PRACTITIONER_SYSTEM, "value": person["id"]}, "display": person["name"]}
        agents.append({"who": who, "requestor": True})
    elif a["operator"]:
        agents.append({"who": {"display": f"opérateur / operator {a['operator']}"}, "requestor": True})
    if org is not None:
        agents.append({"who": {"display": org["name"]}, "requestor": False})
    if not agents:
        agents.append({"who": {"display": "inconnu / unknown"}, "requestor": True})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(a["seq"]),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "action": "R",
        "recorded": instant(datetime.fromisoformat(a["at"])),
        "outcome": "0",
        "agent": agents,
        "source": {"observer": {"display": system["name"] if system else "Passerelle"}},
        "entity": [{"what": {"reference": f"Patient/{patient_id}"}}],
    }
    if a["purpose"]:
        reason = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": a["purpose"]}
        event["purposeOfEvent"] = [{"coding": [reason]}]
    return event


def surveillance(s: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """The security events of consultation grouped by practitioner and system, most first."""
    query = select(JournalEntry).where(JournalEntry.status.in_(SECURITY)).order_by(JournalEntry.seq)
    if since is not None:
        query = query.where(JournalEntry.at >= since)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    reasons: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in s.scalars(query):
        d = json.loads(r.detail or "{}")
        key = (d.get("practitioner", ""), r.partner_id)
        group = groups.setdefault(key, {"practitioner": key[0], "system": key[1], "events": 0, "last": ""})
        group["events"] += 1
        group["last"] = r.at.isoformat()
        reasons[key]["emergency" if r.status == "consult.emergency" else r.decision or "unknown"] += 1
    out = [g | {"reasons": dict(sorted(reasons[k].items()))} for k, g in groups.items()]
    return sorted(out, key=lambda g: (-g["events"], g["practitioner"], g["system"]))


def access_list(engine: Any, nam: str, since: datetime | None, operator: str) -> list[dict[str, Any]]:
    """`passerelle access-list`: the accesses to the patient holding this NAM or ``AUTHORITY:VALUE``.

    Printing the list is journaled as an access too (``access.list``).

    Raises:
        LookupError: no patient holds this NAM.
    """
    from hub.governance.journal import ChainWriter

    from .chart import find, load

    with engine.begin() as conn:
        with Session(bind=conn) as s:
            authority, sep, value = nam.strip().rpartition(":")
            found = find(s, authority, value) if sep and authority else find(s, "RAMQ", nam.strip().upper())
            if not found:
                raise LookupError(nam)
            ids = load(s, found[0]).ids
            listed = accesses(s, ids, since)
        chain = ChainWriter(conn)
        chain.append(
            {
                "at": datetime.now(UTC), "status": "access.list", "operator": operator, "patient_id": found[0],
                "reason": f"patient {found[0]}: access list shown on the command line", "sha256": "", "size": 0,
            }
        )  # fmt: skip
        chain.close()
    return listed


def surveillance_report(engine: Any, since: datetime | None) -> list[dict[str, Any]]:
    """`passerelle surveillance report`: the security events by practitioner and system."""
    with Session(engine) as s:
        return surveillance(s, since)
