"""The values at the engine's seam: a prepared message, the store's verdict, and their outcome.

`Prepared` is one frame after steps 1-5; the writer turns it into a `Verdict` inside the
transaction; `reply` turns the verdict into the `Reply` a channel sends. The ACK code travels
with the ACK bytes as an `Outcome`, from the moment the ACK is built: nothing reads MSA-1 back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from certification.transitions import StatusTransitionRule
from hub.hl7 import Header, Issue
from hub.interfaces import Inbound, Outcome, Reply
from mappings import Mapped


class Status(StrEnum):
    """Lifecycle of an attempt, as the journal records it."""

    ACCEPTED = "accepted"  # stored, AA (or CA)
    DUPLICATE = "duplicate"  # same bytes again: the stored ACK is sent again
    CONFLICT = "conflict"  # same control ID, other bytes: AE 205, quarantined in the journal
    ERROR = "error"  # AE: content error
    REJECTED = "rejected"  # AR: not processable here
    REFUSED = "refused"  # AR: link not authorized (security event)
    CERTIFICATION = "certification"  # certification traffic kept in its campaign, never clinical
    FILTERED = "filtered"  # AA, but every record fell under a channel exclusion: nothing stored
    IGNORED = "ignored"  # an ACK sent to the hub: journaled, never acknowledged
    PROTOCOL = "protocol"  # framing failure: junk, oversize or too slow, connection closed
    DROPPED = "dropped"  # frames queued by a peer that got blocked meanwhile: one entry counts them


@dataclass(frozen=True, slots=True)
class Prepared:
    """One inbound frame after steps 1-5: what to store, what to answer."""

    inbound: Inbound
    sha256: str
    status: Status
    header: Header | None = None
    codec: str = ""
    issues: tuple[Issue, ...] = ()
    mapped: Mapped | None = None
    ack: bytes | None = None  # the ACK to send (and store, when accepted)
    ack_code: Outcome | None = None  # MSA-1 of `ack`, set with it
    partner_id: str = ""
    decision: str = ""  # the link policy's reason code
    registry_mark: tuple[object, ...] | None = None  # the registry version the link was decided at
    transitions: StatusTransitionRule | None = None  # checked by the writer against the stored statuses
    campaign_product: tuple[str, str] | None = None  # certification traffic: the open campaign's product

    @property
    def key(self) -> tuple[str, str, str]:
        """The dedupe key (MSH-3, MSH-4, MSH-10)."""
        h = self.header
        assert h is not None
        return (h.sending_application, h.sending_facility, h.control_id)

    @property
    def code(self) -> str:
        """MSA-1 of the ACK, or "" when there is none."""
        return self.ack_code.value if self.ack_code is not None else ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the writer decided for one prepared message, inside its transaction.

    `prepared` is the message as answered: a check the writer made against the repository
    (dedupe conflict, status transition, no open campaign) replaced its issues and its ACK,
    and a duplicate carries the ACK stored the first time.
    """

    status: Status
    prepared: Prepared
    message_id: int | None = None


_OUTCOMES = {Status.DUPLICATE: Outcome.DUPLICATE, Status.FILTERED: Outcome.FILTERED}


def reply(verdict: Verdict) -> Reply | None:
    """Step 7: what the channel sends for a committed verdict (None: nothing)."""
    p = verdict.prepared
    if p.ack is None or p.ack_code is None:
        return None
    return Reply(_OUTCOMES.get(verdict.status, p.ack_code), p.ack, p.ack_code)
