"""The register of refusals, applied before any release, in the consultation's own transaction.

A total refusal withholds every clinical resource. A refusal dated D withholds what was
collected before D and releases what is dated D or later. "Collected" is read against the date
the information was produced clinically (specimen collection or observation, dispense or
administration, order, exam or study); a record that has none is dated by the day the hub
received it. Several refusals in force add up: a total one wins, else the latest date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import Refusal, RefusalWithdrawal

LOCAL = ZoneInfo("America/Toronto")  # Québec's time: an HL7 time without an offset is local


@dataclass(frozen=True, slots=True)
class Release:
    """What the refusals in force allow: everything, nothing clinical, or what is dated from a day on."""

    total: bool = False
    before: date | None = None
    refusals: tuple[int, ...] = ()  # the numbers of the refusals in force

    @property
    def restricted(self) -> bool:
        """Whether any refusal is in force."""
        return self.total or self.before is not None

    def withholds(self, clinical: str | None, received: datetime | None) -> bool:
        """Whether a record of this clinical date (ISO text) or, lacking one, reception time is withheld."""
        if self.total:
            return True
        if self.before is None:
            return False
        day = clinical_day(clinical, received)
        return day is None or day < self.before


def in_force(s: Session, patient_ids: list[int]) -> Release:
    """The refusals in force for these patients (a patient and those merged into it)."""
    rows = s.execute(
        select(Refusal.id, Refusal.scope, Refusal.before)
        .outerjoin(RefusalWithdrawal, RefusalWithdrawal.refusal_id == Refusal.id)
        .where(Refusal.patient_id.in_(patient_ids), RefusalWithdrawal.id.is_(None))
        .order_by(Refusal.id)
    ).all()
    if not rows:
        return Release()
    total = any(r.scope == "all" for r in rows)
    dates = [date.fromisoformat(r.before) for r in rows if r.scope == "before"]
    return Release(total, None if total else max(dates), tuple(r.id for r in rows))


def clinical_day(clinical: str | None, received: datetime | None) -> date | None:
    """The local day of a record: its clinical date (at the precision sent), else its reception."""
    if clinical:
        text = clinical.strip()
        if len(text) == 4:  # a year alone: its first day
            text += "-01-01"
        elif len(text) == 7:
            text += "-01"
        try:
            if "T" not in text:
                return date.fromisoformat(text[:10])
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None:
            return (moment.astimezone(LOCAL) if moment.tzinfo else moment).date()  # naive: local already
    if received is None:
        return None
    return (received if received.tzinfo else received.replace(tzinfo=UTC)).astimezone(LOCAL).date()  # naive: UTC
