"""Step 6: one transaction holds the raw messages, their ACKs, journal entries and records.

The hot path writes with SQLAlchemy Core; the ORM models only define the tables. Result
rows are appended with the next version for their key, never updated.

TRANSACTION (one per batch):
    for each prepared message, in arrival order:
        accepted  -> look up (MSH-3, MSH-4, MSH-10)
                     none:        insert message (raw + ACK), patient, records, journal(accepted)
                     same sha256: journal(duplicate); the stored ACK is sent again
                     other sha:   journal(conflict) with the raw bytes (quarantine); AE 205
        otherwise -> journal(status) with the raw bytes (capped) and the reasons
    COMMIT; only then are the ACKs released.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select

from hub.hl7 import Code, Issue, Location

from .domain_store import insert_imaging, insert_pharmacy
from .interfaces import Status
from .journal import ChainWriter
from .lab_store import insert_lab, resolve_patient, transition_issues
from .models import Campaign, CampaignMessage, LabObservation, Message, Patient, PatientIdentifier
from .models import LabOrder as LabOrderRow
from .pipeline import Prepared, journal_raw

messages = cast(Table, Message.__table__)
patients = cast(Table, Patient.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
lab_orders = cast(Table, LabOrderRow.__table__)
lab_observations = cast(Table, LabObservation.__table__)
campaigns = cast(Table, Campaign.__table__)
campaign_messages = cast(Table, CampaignMessage.__table__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the store decided for one prepared message."""

    status: Status
    stored_ack: bytes | None = None  # the ACK stored earlier, for a duplicate
    message_id: int | None = None
    issues: tuple[Issue, ...] = ()  # rules the store checked against the repository


class SQLStore:
    """The repository behind the group-commit writer."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Store a batch in one transaction; raises if the transaction fails (nothing kept)."""
        with self.engine.begin() as conn:
            chain = ChainWriter(conn)
            known = _stored(conn, [p.key for p in batch if p.status is Status.ACCEPTED and p.campaign_product is None])
            verdicts = [self._one(conn, chain, p, known) for p in batch]
            chain.close()
            return verdicts

    def _one(
        self, conn: Connection, chain: ChainWriter, p: Prepared, known: dict[tuple[str, str, str], Any]
    ) -> Verdict:
        if p.campaign_product is not None and p.status in (Status.ACCEPTED, Status.ERROR):
            return self._campaign(conn, chain, p)
        if p.status is Status.FILTERED:  # not communicated: only the attempt and its rule are kept
            self._journal(chain, p, p.status)
            return Verdict(p.status)
        if p.status is not Status.ACCEPTED:
            self._journal(chain, p, p.status, raw=journal_raw(p))
            return Verdict(p.status)
        row = known.get(p.key)  # looked up for the whole batch at once; this batch's own inserts added
        if row is not None:
            if row.sha256 == p.sha256:
                self._journal(chain, p, Status.DUPLICATE, message_id=row.id)
                return Verdict(Status.DUPLICATE, stored_ack=row.ack, message_id=row.id)
            self._journal(chain, p, Status.CONFLICT, raw=journal_raw(p), codes="205", ack_code="AE")
            return Verdict(Status.CONFLICT)
        if p.check_transitions and p.mapped is not None:
            issues = transition_issues(conn, p.mapped)
            if issues:
                refused = replace(p, issues=issues)
                self._journal(chain, refused, Status.ERROR, raw=journal_raw(p), ack_code="AE")
                return Verdict(Status.ERROR, issues=issues)
        message_id = self._insert(conn, p)
        known[p.key] = _Stored(message_id, p.sha256, p.ack or b"")
        self._journal(chain, p, Status.ACCEPTED, message_id=message_id)
        return Verdict(Status.ACCEPTED, message_id=message_id)

    def _campaign(self, conn: Connection, chain: ChainWriter, p: Prepared) -> Verdict:
        """Certification traffic: into the open campaign for the partner's product, never clinical."""
        product, version = p.campaign_product or ("", "")
        campaign_id = conn.execute(
            select(campaigns.c.id).where(
                campaigns.c.product == product, campaigns.c.version == version, campaigns.c.status == "open"
            )
        ).scalar()
        if campaign_id is None:
            issue = Issue(
                Code.INTERNAL_ERROR,
                Location("MSH", 1),
                "aucune campagne ouverte pour ce produit",
                "no open campaign for this product version",
            )
            self._journal(chain, replace(p, issues=(issue,)), Status.REJECTED, raw=journal_raw(p), ack_code="AR")
            return Verdict(Status.REJECTED, issues=(issue,))
        answer = "AA" if p.status is Status.ACCEPTED else "AE"
        keys = [getattr(r, "key", "") for r in p.mapped.records()] if p.mapped else []
        conn.execute(
            insert(campaign_messages),
            {
                "campaign_id": campaign_id,
                "received_at": p.inbound.received_at,
                "control_id": p.header.control_id if p.header else "",
                "raw": p.inbound.raw,
                "answer": answer,
                "issues": json.dumps([issue_to_json(i) for i in p.issues], ensure_ascii=False),
                "order_keys": json.dumps(keys, ensure_ascii=False),
            },
        )
        self._journal(chain, p, Status.CERTIFICATION, raw=journal_raw(p), ack_code=answer)
        return Verdict(Status.CERTIFICATION)

    def _insert(self, conn: Connection, p: Prepared) -> int:
        h, mapped = p.header, p.mapped
        assert h is not None and mapped is not None and p.ack is not None
        now = self.clock()
        patient_id = resolve_patient(conn, mapped.patient, now)
        warnings = [
            {"location": str(i.location), "code": i.code.value, "text": i.text_en}
            for i in p.issues
            if i.severity != "E"
        ]
        message_id = conn.execute(
            insert(messages).returning(messages.c.id),
            {
                "channel": p.inbound.channel,
                "peer": p.inbound.peer,
                "sending_application": h.sending_application,
                "sending_facility": h.sending_facility,
                "control_id": h.control_id,
                "message_type": h.message_type,
                "version": h.version,
                "charset": p.codec,
                "sha256": p.sha256,
                "raw": p.inbound.raw,
                "ack": p.ack,
                "ack_code": _ack_code(p.ack),
                "warnings": json.dumps(warnings),
                "patient_id": patient_id,
                "received_at": p.inbound.received_at,
                "stored_at": now,
            },
        ).scalar_one()
        insert_lab(conn, mapped, message_id, patient_id)
        insert_pharmacy(conn, mapped, message_id, patient_id)
        insert_imaging(conn, mapped, message_id, patient_id)
        return int(message_id)

    def _journal(
        self,
        chain: ChainWriter,
        p: Prepared,
        status: Status,
        *,
        raw: bytes | None = None,
        message_id: int | None = None,
        codes: str | None = None,
        ack_code: str | None = None,
    ) -> None:
        h = p.header
        errors = [i for i in p.issues if i.severity == "E"]
        chain.append(
            {
                "at": self.clock(),
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
                "ack_code": ack_code if ack_code is not None else _ack_code(p.ack),
                "codes": codes if codes is not None else ",".join(str(i.code.value) for i in errors),
                "reason": reasons(p) if status is not Status.CONFLICT else "MSH^1^10 205 duplicate key",
                "message_id": message_id,
                "partner_id": p.partner_id,
                "decision": p.decision,
            },
        )


@dataclass(frozen=True, slots=True)
class _Stored:
    """What dedupe needs of a stored message."""

    id: int
    sha256: str
    ack: bytes


def _stored(conn: Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Any]:
    """The stored messages among `keys` (MSH-3, MSH-4, MSH-10), in one query."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = conn.execute(
        select(
            messages.c.id,
            messages.c.sha256,
            messages.c.ack,
            messages.c.sending_application,
            messages.c.sending_facility,
            messages.c.control_id,
        ).where(messages.c.control_id.in_({cid for _app, _fac, cid in wanted}))
    ).all()
    out: dict[tuple[str, str, str], Any] = {}
    for r in rows:
        key = (r.sending_application, r.sending_facility, r.control_id)
        if key in wanted:
            out[key] = _Stored(r.id, r.sha256, r.ack)
    return out


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


def reasons(p: Prepared) -> str:
    """The PHI-free reason text of a journal entry.

    Location, code and English text per issue, then the exclusion rules that filtered records out.
    """
    parts = [f"{i.location} {i.code.value} {i.severity} {i.text_en}" for i in p.issues]
    if p.mapped is not None and p.mapped.filtered_by:
        parts.append("filtered by exclusion " + ", ".join(p.mapped.filtered_by))
    return "; ".join(parts)


def _ack_code(ack: bytes | None) -> str:
    if not ack:
        return ""
    pos = ack.find(b"MSA")
    return ack[pos + 4 : pos + 6].decode("ascii", "replace") if pos != -1 else ""
