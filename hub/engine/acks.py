"""Step 7's words: the ACK for a prepared message, with its MSA-1 code kept as a value.

The pipeline answers what it decided before the commit; the writer answers what it decided
inside the transaction (a dedupe conflict, a status that goes back, no open campaign, a
repository outage). Both build their ACKs here, so the code sent and the code journaled and
stored are one value.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hub.hl7 import Code, Header, Issue, Location, ack_code, build_ack
from hub.hl7.ack import ENHANCED
from hub.interfaces import Outcome

from .outcome import Prepared, Status

MAX_ERR = 100  # ERR segments in one ACK at most, whatever found them; one more says how many were left out

# The pipeline's and the writer's verdicts, in the ACK builder's words.
_ANSWERS = {Status.ACCEPTED: "accepted", Status.FILTERED: "accepted", Status.ERROR: "error"}

CONFLICT = Issue(
    Code.DUPLICATE_KEY,
    Location("MSH", 1, 10),
    "MSH-10 déjà reçu avec un autre contenu",
    "MSH-10 already received with other content",
)
OUTAGE = Issue(
    Code.INTERNAL_ERROR,
    Location("MSH", 1),
    "dépôt indisponible, renvoyer plus tard",
    "repository unavailable, resend later",
)


@dataclass(frozen=True, slots=True)
class Acknowledger:
    """Builds ACKs as this hub: its MSH-3/4 when the inbound MSH-5/6 are empty, its clock and ids."""

    application: str = "PASSERELLE"
    facility: str = "DSQ"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], str] = field(default=lambda: secrets.token_hex(10))

    def answer(self, p: Prepared) -> Prepared:
        """`p` with the ACK its status calls for (REFUSED, REJECTED and PROTOCOL: AR)."""
        return self._with(p, _ANSWERS.get(p.status, "rejected"), p.issues)

    def conflict(self, p: Prepared) -> Prepared:
        """The control ID was used by other bytes: AE 205."""
        return self._with(replace(p, status=Status.CONFLICT, issues=(CONFLICT,)), "error", (CONFLICT,))

    def refused(self, p: Prepared, status: Status, issues: tuple[Issue, ...]) -> Prepared:
        """A check against the repository failed: AE (ERROR) or AR (REJECTED) with its issues."""
        return self._with(replace(p, status=status, issues=issues), _ANSWERS.get(status, "rejected"), issues)

    def warned(self, p: Prepared, warnings: tuple[Issue, ...]) -> Prepared:
        """Accepted, with warnings found against the repository added to the ACK."""
        issues = (*p.issues, *warnings)
        return self._with(replace(p, issues=issues), "accepted", issues)

    def outage(self, p: Prepared) -> Prepared:
        """The commit failed: AR 207, never AA; the sender resends later."""
        return self._with(replace(p, status=Status.REJECTED, issues=(OUTAGE,)), "rejected", (OUTAGE,))

    def accepted(self, header: Header, codec: str, issues: tuple[Issue, ...]) -> tuple[bytes, Outcome]:
        """The ACK bytes and code of an accepted message, for a `Prepared` that is built with them."""
        return self._ack(header, codec, "accepted", issues)

    def _with(self, p: Prepared, outcome: str, issues: tuple[Issue, ...]) -> Prepared:
        ack, code = self._ack(p.header, p.codec, outcome, issues)
        return replace(p, ack=ack, ack_code=code)

    def _ack(self, header: Header | None, codec: str, outcome: str, issues: tuple[Issue, ...]) -> tuple[bytes, Outcome]:
        if header and not echo_safe(header):
            header = replace(header, control_id="")  # MSA-2 echoes MSH-10 only when safe
        # MLLP is request/response: a sender whose MSH-15/16 ask for no ACK at all still gets
        # the accept ACK, the only proof that its message is safe (docs/design.md).
        code = ack_code(outcome, header) or ENHANCED[outcome]
        codec = codec or "ascii"
        text = build_ack(
            code,
            header,
            capped(issues),
            application=self.application,
            facility=self.facility,
            control_id=self.new_id(),
            now=self.clock(),
            ascii_only=codec == "ascii",
        )
        return text.encode(codec, errors="replace"), Outcome(code)


def capped(issues: tuple[Issue, ...]) -> tuple[Issue, ...]:
    """At most MAX_ERR issues, errors first, and one more saying how many were left out.

    Parser, escape, base64, rule and mapping warnings all end up here: no source can make an
    ACK larger than the message it answers by more than a bounded amount.
    """
    if len(issues) <= MAX_ERR:
        return issues
    ordered = sorted(issues, key=lambda i: i.severity != "E")  # stable: errors first, in order
    left = len(issues) - MAX_ERR
    more = Issue(
        Code.OTHER,
        Location(),
        f"{left} autre(s) problème(s) non listé(s)",
        f"{left} more issue(s) not listed",
        "E" if any(i.severity == "E" for i in ordered[MAX_ERR:]) else "W",
    )
    return (*ordered[:MAX_ERR], more)


def echo_safe(h: Header) -> bool:
    """MSH-10 may be echoed in MSA-2: within 199 characters and free of delimiters."""
    d = h.d
    return len(h.control_id) <= 199 and not ({d.component, d.repetition, d.subcomponent} & set(h.control_id))
