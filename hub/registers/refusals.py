"""The register of refusals: a patient refuses that their information be released.

A refusal is total (``all``) or dated (``before`` a day: what was collected before it is
withheld). It holds a unique number, the date it was recorded, the means of expression, its
scope and the system that recorded it. It is never deleted: a withdrawal is a row of its own.
Both tables are append-only in the database, and every change is a chained journal entry that
names the operator and the patient (whose access list shows it). Intake never reads them:
information keeps being collected; the read side withholds it (hub/consult/release.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select

from hub.governance.journal import ChainWriter
from hub.governance.specs import RegistryError
from hub.store.models import Patient, PatientIdentifier, Refusal, RefusalWithdrawal

from .changes import journal_change, now

refusals = cast(Table, Refusal.__table__)
withdrawals = cast(Table, RefusalWithdrawal.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
patients = cast(Table, Patient.__table__)

MEANS = ("written", "phone", "portal", "in-person")


def scoped(identifier: str) -> tuple[str, str]:
    """(authority, value) of a NAM, or of ``AUTHORITY:VALUE`` for a patient known by a local identifier."""
    authority, sep, value = identifier.strip().rpartition(":")
    if sep and authority:
        return authority, value
    return "RAMQ", identifier.strip().upper()


def patient_by_nam(conn: Connection, nam: str) -> int:
    """The patient (as they are now: a merged one's survivor) holding this NAM (or ``AUTHORITY:VALUE``).

    Raises:
        RegistryError: no patient holds it.
    """
    authority, value = scoped(nam)
    row = conn.execute(
        select(patients.c.id, patients.c.merged_into)
        .join(identifiers, identifiers.c.patient_id == patients.c.id)
        .where(identifiers.c.authority == authority, identifiers.c.value == value)
    ).first()
    if row is None:
        raise RegistryError("no patient holds that NAM / aucun usager ne porte ce NAM")
    return int(row.merged_into or row.id)


def add(engine: Engine, nam: str, *, before: date | None, means: str, system: str, reason: str, operator: str) -> int:
    """Record a refusal (total when `before` is None); its number."""
    if means not in MEANS:
        raise RegistryError(f"means must be one of {', '.join(MEANS)}")
    if not system.strip() or not reason.strip():
        raise RegistryError("a refusal names the system that recorded it and a reason")
    with engine.begin() as conn:
        patient_id = patient_by_nam(conn, nam)
        row = {
            "patient_id": patient_id,
            "scope": "all" if before is None else "before",
            "before": "" if before is None else before.isoformat(),
            "means": means,
            "system": system.strip(),
            "reason": reason.strip(),
            "operator": operator,
            "recorded_at": now(),
        }
        number = int(conn.execute(insert(refusals).returning(refusals.c.id), row).scalar_one())
        scope = "all" if before is None else f"before {row['before']}"
        chain = ChainWriter(conn)
        subject = f"refusal {number} ({scope}, {means}, system {row['system']})"
        journal_change(chain, "refusal.add", subject, operator, reason.strip(), patient_id=patient_id)
        chain.close()
    return number


def withdraw(engine: Engine, number: int, operator: str, reason: str) -> None:
    """Withdraw refusal `number`; final (a new refusal is a new number)."""
    with engine.begin() as conn:
        row = conn.execute(select(refusals).where(refusals.c.id == number)).first()
        if row is None:
            raise RegistryError(f"no refusal {number}")
        if conn.execute(select(withdrawals.c.id).where(withdrawals.c.refusal_id == number)).first():
            raise RegistryError(f"refusal {number} is already withdrawn")
        at = now()
        conn.execute(insert(withdrawals), {"refusal_id": number, "operator": operator, "reason": reason, "at": at})
        chain = ChainWriter(conn)
        journal_change(chain, "refusal.withdraw", f"refusal {number}", operator, reason, patient_id=row.patient_id)
        chain.close()


def list_refusals(engine: Engine, nam: str | None = None) -> list[dict[str, Any]]:
    """The register, oldest first (one patient's, by NAM), each with its withdrawal if any."""
    query = (
        select(refusals, withdrawals.c.at.label("withdrawn_at"), withdrawals.c.operator.label("withdrawn_by"))
        .outerjoin(withdrawals, withdrawals.c.refusal_id == refusals.c.id)
        .order_by(refusals.c.id)
    )
    with engine.connect() as conn:
        if nam is not None:
            query = query.where(refusals.c.patient_id == patient_by_nam(conn, nam))
        rows = conn.execute(query).all()
    return [
        {
            "number": r.id,
            "patient_id": r.patient_id,
            "recorded_at": r.recorded_at.isoformat(),
            "scope": r.scope,
            "before": r.before or None,
            "means": r.means,
            "system": r.system,
            "reason": r.reason,
            "operator": r.operator,
            "in_force": r.withdrawn_at is None,
            "withdrawn_at": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
            "withdrawn_by": r.withdrawn_by,
        }
        for r in rows
    ]
