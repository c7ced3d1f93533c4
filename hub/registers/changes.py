"""What every register change shares: the time, and its chained journal entry.

The journal's `partner_id` column names partners only; a register entry names its subject at
the head of the reason (``dr-tremblay: onboarding``), so the chain says what was changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.governance.journal import ChainWriter

STATUS_LENGTH = 20  # journal.status is VARCHAR(20)


def now() -> datetime:
    """The time of a change (UTC)."""
    return datetime.now(UTC)


def journal_change(
    chain: ChainWriter,
    status: str,
    subject: str,
    operator: str,
    reason: str,
    *,
    patient_id: int | None = None,
    peer: str = "",
) -> None:
    """Append the change's entry to the chain (the caller's transaction closes it).

    `patient_id` names the patient a change or an access concerns (their access list reads it);
    `peer` the address a console action came from.
    """
    assert len(status) <= STATUS_LENGTH, status
    chain.append(
        {
            "patient_id": patient_id,
            "at": now(),
            "status": status,
            "channel": "",
            "peer": peer,
            "sha256": "",
            "size": 0,
            "operator": operator,
            "reason": f"{subject}: {reason}",
        }
    )
