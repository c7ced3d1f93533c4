"""Reading back what a consultation journaled."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.store.models import JournalEntry


def last_entry(engine: Engine) -> tuple[str, str, dict[str, Any], int | None]:
    """(status, decision, detail, patient id) of the newest journal entry."""
    with Session(engine) as s:
        row = s.scalars(select(JournalEntry).order_by(JournalEntry.seq.desc()).limit(1)).one()
        return row.status, row.decision, json.loads(row.detail or "{}"), row.patient_id
