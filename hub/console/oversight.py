"""The journal page (verify on demand, the head, recent security events) and the privacy page.

The privacy page reads what the consultation side keeps (access lists, surveillance); the engine
hands the console those readers as a `Privacy` value, so the two sides stay independent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, select

from hub.governance.journal import record_verification, verify
from hub.registers.refusals import list_refusals
from hub.store.models import JournalEntry, JournalHead

journal = cast(Table, JournalEntry.__table__)
SECURITY = (
    "refused", "consult.denied", "consult.emergency", "operator.signin-fail", "operator.locked", "journal.verify",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Privacy:
    """The consultation side's readers: a patient's access list (journaled), the surveillance report."""

    access_list: Callable[[Engine, str, datetime | None, str], list[dict[str, Any]]]
    surveillance: Callable[[Engine, datetime | None], list[dict[str, Any]]]


def journal_page(engine: Engine) -> dict[str, Any]:
    """The head, the last verification, the latest security events."""
    with engine.connect() as conn:
        head = conn.execute(select(JournalHead.seq, JournalHead.hash)).first()
        events = conn.execute(
            select(journal).where(journal.c.status.in_(SECURITY)).order_by(journal.c.id.desc()).limit(30)
        ).all()
        last = conn.execute(
            select(journal).where(journal.c.status == "journal.verify").order_by(journal.c.id.desc()).limit(1)
        ).first()
    return {"head": head, "events": events, "last_verify": last}


def verify_now(engine: Engine, operator: str) -> dict[str, Any]:
    """Walk the chain now; the result is journaled with the operator (a failure is a security event)."""
    result = verify(engine)
    return {"ok": result[0] is None, "text": record_verification(engine, operator, result)}


def privacy_page(engine: Engine, privacy: Privacy, nam: str, operator: str) -> dict[str, Any]:
    """The refusal register, the surveillance report, and the access list of one patient when asked."""
    listed: list[dict[str, Any]] | None = None
    error = ""
    if nam.strip():
        try:
            listed = privacy.access_list(engine, nam.strip(), None, operator)
        except LookupError:
            error = "aucun usager ne porte ce NAM / no patient holds that NAM"
    return {
        "refusals": list_refusals(engine),
        "surveillance": privacy.surveillance(engine, None),
        "accesses": listed,
        "nam": nam,
        "error": error,
    }
