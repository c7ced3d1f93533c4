"""A patient in the console: found by identifier, shown with the messages that concern them.

Both are accesses to patient data: the caller journals them (``access.console``) before the
page is built, and they appear in that patient's access list.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, func, select

from hub.store.models import JournalEntry, Message, Patient, PatientIdentifier

identifiers = cast(Table, PatientIdentifier.__table__)
messages = cast(Table, Message.__table__)
patients = cast(Table, Patient.__table__)
journal = cast(Table, JournalEntry.__table__)


def find(conn: Connection, text: str) -> list[int]:
    """The patients holding an identifier: ``AUTHORITY:VALUE``, or a value under any authority."""
    authority, sep, value = text.strip().rpartition(":")
    query = select(identifiers.c.patient_id).distinct()
    if sep and authority:
        query = query.where(identifiers.c.authority == authority, identifiers.c.value == value)
    else:
        query = query.where(identifiers.c.value == text.strip())
    return sorted(int(r[0]) for r in conn.execute(query))


def message_ids(patient_ids: list[int]) -> Any:
    """The SELECT of the stored messages of these patients (for a journal search)."""
    return select(messages.c.id).where(messages.c.patient_id.in_(patient_ids))


def page(conn: Connection, patient_id: int) -> dict[str, Any] | None:
    """The patient's identifiers and stored messages (newest first, 200 at most), or None."""
    row = conn.execute(select(patients.c.id, patients.c.merged_into).where(patients.c.id == patient_id)).first()
    if row is None:
        return None
    held = conn.execute(
        select(identifiers.c.authority, identifiers.c.value, identifiers.c.type_code)
        .where(identifiers.c.patient_id == patient_id)
        .order_by(identifiers.c.authority, identifiers.c.value)
    ).all()
    entry = select(func.min(journal.c.id)).where(journal.c.message_id == messages.c.id).scalar_subquery().label("entry")
    stored = conn.execute(
        select(messages.c.id, messages.c.channel, messages.c.message_type, messages.c.control_id,
               messages.c.received_at, messages.c.partner_id, entry)
        .where(messages.c.patient_id == patient_id)
        .order_by(messages.c.id.desc())
        .limit(200)
    ).all()  # fmt: skip
    return {"id": row.id, "merged_into": row.merged_into, "identifiers": held, "messages": stored}
