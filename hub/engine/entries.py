"""The rows an attempt leaves: its journal entry, its `messages` row, certification issues as JSON.

Everything here is PHI-free but the raw bytes, which live only in the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.hl7 import Code, Issue, Location
from hub.interfaces import Outcome
from hub.store.driver import Driver, Read, Rows
from hub.store.records import chunks
from hub.store.rows import Row, message_values

from .outcome import Prepared, Status

_STORED = (
    'SELECT "id", "sha256", "ack", "ack_code", "sending_application", "sending_facility", "control_id"'
    ' FROM "messages" WHERE '
)


@dataclass(frozen=True, slots=True)
class Stored:
    """What dedupe needs of a stored message."""

    id: int
    sha256: str
    ack: bytes
    code: Outcome


def stored_reads(driver: Driver, keys: list[tuple[str, str, str]], out: dict[Any, Any]) -> list[Read]:
    """Reads that put the stored messages among `keys` (MSH-3, MSH-4, MSH-10) into `out`."""
    wanted = set(keys)

    def take(rows: Rows) -> None:
        for message_id, sha256, ack, code, application, facility, control_id in rows:
            key = (application, facility, control_id)
            if key in wanted:
                out[key] = Stored(message_id, sha256, bytes(ack), Outcome(code))

    reads: list[Read] = []
    for chunk in chunks(sorted({cid for _app, _fac, cid in wanted})):
        condition, params = driver.any_of("control_id", chunk)
        reads.append((_STORED + condition, params, take))
    return reads


def message_row(p: Prepared, now: datetime) -> Row:
    """The `messages` row of an accepted message (its id and patient are set when the batch is written)."""
    h = p.header
    assert h is not None and p.ack is not None
    warnings = [
        {"location": str(i.location), "code": i.code.value, "text": i.text_en} for i in p.issues if i.severity != "E"
    ]
    return message_values(
        channel=p.inbound.channel,
        peer=p.inbound.peer,
        sending_application=h.sending_application,
        sending_facility=h.sending_facility,
        control_id=h.control_id,
        message_type=h.message_type,
        version=h.version,
        charset=p.codec,
        sha256=p.sha256,
        raw=p.inbound.raw,
        ack=p.ack,
        ack_code=p.code,
        warnings=json.dumps(warnings) if warnings else "[]",
        received_at=p.inbound.received_at,
        stored_at=now,
        partner_id=p.partner_id,
    )


def journal_entry(
    p: Prepared, status: Status, clock: Callable[[], datetime], *, raw: bytes | None, message_id: int | None
) -> dict[str, Any]:
    """The journal entry of one attempt, as answered."""
    h = p.header
    errors = [i for i in p.issues if i.severity == "E"]
    return {
        "at": clock(),
        "status": status.value,
        "channel": p.inbound.channel,
        "peer": p.inbound.peer,
        "sha256": p.sha256,
        "size": p.inbound.size if p.inbound.size >= 0 else len(p.inbound.raw),
        "raw": raw,
        "sending_application": h.sending_application if h else "",
        "sending_facility": h.sending_facility if h else "",
        "control_id": h.control_id if h else "",
        "message_type": h.message_type if h else "",
        "ack_code": p.code,
        "codes": ",".join(str(i.code.value) for i in errors),
        "reason": reasons(p) if status is not Status.CONFLICT else "MSH^1^10 205 duplicate key",
        "message_id": message_id,
        "partner_id": p.partner_id,
        "decision": p.decision,
        # The certificate a TLS peer presented (chained): a reprocess runs the attempt as it came.
        "detail": f'{{"tls_fingerprint":"{p.inbound.tls_fingerprint}"}}' if p.inbound.tls_fingerprint else "",
    }


def reasons(p: Prepared) -> str:
    """The PHI-free reason text of a journal entry.

    Location, code and English text per issue, then the exclusion rules that filtered records out.
    """
    parts = [f"{i.location} {i.code.value} {i.severity} {i.text_en}" for i in p.issues]
    if p.mapped is not None and p.mapped.filtered_by:
        parts.append("filtered by exclusion " + ", ".join(p.mapped.filtered_by))
    return "; ".join(parts)


def issue_to_json(issue: Issue) -> dict[str, Any]:
    """An issue as stored with certification traffic."""
    return {
        "code": issue.code.value,
        "location": issue.location.parts(),
        "severity": issue.severity,
        "fr": issue.text_fr,
        "en": issue.text_en,
        "rule": issue.rule,
    }


def issue_from_json(data: dict[str, Any]) -> Issue:
    """The inverse of `issue_to_json`."""
    seg, *nums = data["location"]
    loc = Location(seg, *(int(n) if n else None for n in nums))
    return Issue(Code(data["code"]), loc, data["fr"], data["en"], data["severity"], data["rule"])
