"""What the console's pages show, read from the repository: the dashboard, the message browser, one message."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select

from hub.hl7.errors import CODE_TEXT, Code
from hub.store.models import (
    ImagingOrder,
    ImagingReport,
    JournalEntry,
    JournalHead,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Message,
)

from .patients import message_ids as patient_message_ids

journal = cast(Table, JournalEntry.__table__)
messages = cast(Table, Message.__table__)
PAGE = 50
FILTERS = ("control_id", "sender", "channel", "status", "ack_code", "code", "since", "until", "patient")
_RECORDS = {
    "lab orders": LabOrder, "lab results": LabObservation, "medication events": MedicationEvent,
    "imaging orders": ImagingOrder, "imaging reports": ImagingReport,
}  # fmt: skip


def dashboard(conn: Connection, now: datetime) -> dict[str, Any]:
    """Per channel over the last hour: counts by status and ACK code, throughput, latency; refusals; errors."""
    since = now - timedelta(hours=1)
    rows = conn.execute(
        select(journal.c.channel, journal.c.status, journal.c.ack_code, func.count())
        .where(journal.c.at >= since, journal.c.channel != "")
        .group_by(journal.c.channel, journal.c.status, journal.c.ack_code)
    ).all()
    channels: dict[str, dict[str, Any]] = defaultdict(lambda: {"counts": [], "total": 0})
    for channel, status, ack, n in rows:
        channels[channel]["counts"].append((status, ack, n))
        channels[channel]["total"] += n
    stored = conn.execute(
        select(messages.c.channel, messages.c.received_at, messages.c.stored_at)
        .where(messages.c.stored_at >= since)
        .order_by(messages.c.id.desc())
        .limit(100_000)
    ).all()
    waits: dict[str, list[float]] = defaultdict(list)
    last: dict[str, datetime] = {}
    for channel, received, done in stored:
        waits[channel].append((_aware(done) - _aware(received)).total_seconds() * 1000)
        last[channel] = max(last.get(channel, _aware(done)), _aware(done))
    for channel, entry in channels.items():
        ms = sorted(waits.get(channel, []))
        entry["per_second"] = entry["total"] / 3600
        entry["p50"] = ms[len(ms) // 2] if ms else None
        entry["p99"] = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else None
        entry["last_commit"] = last[channel].isoformat(timespec="seconds") if channel in last else None
    refused = conn.execute(
        select(journal.c.decision, func.count())
        .where(journal.c.at >= since, journal.c.status == "refused")
        .group_by(journal.c.decision)
    ).all()
    errors = conn.execute(
        select(journal)
        .where(journal.c.at >= since, journal.c.status.in_(("error", "rejected", "protocol", "conflict")))
        .order_by(journal.c.id.desc())
        .limit(10)
    ).all()
    head = conn.execute(select(JournalHead.seq, JournalHead.hash)).first()
    verified = conn.execute(
        select(journal.c.at, journal.c.decision, journal.c.operator)
        .where(journal.c.status == "journal.verify")
        .order_by(journal.c.id.desc())
        .limit(1)
    ).first()
    return {"channels": dict(sorted(channels.items())), "refused": refused, "errors": errors, "head": head,
            "verified": verified}  # fmt: skip


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matching(filters: dict[str, str], patient_ids: list[int] | None = None) -> Any:
    """The journal SELECT for the browser's filters (newest first); `patient_ids`: the patient filter's match.

    Raises:
        ValueError: a date that is not YYYY-MM-DD.
    """
    query = select(journal).where(journal.c.seq.is_not(None))
    if filters.get("control_id"):
        query = query.where(journal.c.control_id == filters["control_id"])
    if filters.get("sender"):
        query = query.where(journal.c.sending_application == filters["sender"])
    for name in ("channel", "status", "ack_code"):
        if filters.get(name):
            query = query.where(journal.c[name] == filters[name])
    if filters.get("code"):
        query = query.where(journal.c.codes.contains(filters["code"]))
    for name, op in (("since", "__ge__"), ("until", "__lt__")):
        if filters.get(name):
            moment = datetime.fromisoformat(filters[name]).replace(tzinfo=UTC)
            query = query.where(getattr(journal.c.at, op)(moment))
    if patient_ids is not None:
        query = query.where(journal.c.message_id.in_(patient_message_ids(patient_ids)))
    return query.order_by(journal.c.id.desc())


def search(
    conn: Connection, filters: dict[str, str], before: int | None, patient_ids: list[int] | None = None
) -> tuple[list[Any], int | None]:
    """Journal entries matching the filters, newest first, one page; and the id to continue before."""
    query = matching(filters, patient_ids)
    if before is not None:
        query = query.where(journal.c.id < before)
    rows = conn.execute(query.limit(PAGE + 1)).all()
    return list(rows[:PAGE]), (rows[PAGE - 1].id if len(rows) > PAGE else None)


def entry(conn: Connection, entry_id: int) -> dict[str, Any] | None:
    """One journal entry, the message it names, its ACK's ERR segments explained, its records."""
    row = conn.execute(select(journal).where(journal.c.id == entry_id)).first()
    if row is None:
        return None
    out: dict[str, Any] = {"entry": row, "message": None, "errors": [], "records": {}, "related": []}
    if row.message_id is not None:
        message = conn.execute(select(messages).where(messages.c.id == row.message_id)).first()
        out["message"] = message
        if message is not None:
            out["errors"] = explain(message.ack.decode(message.charset or "utf-8", "replace"))
            for label, model in _RECORDS.items():
                table = cast(Table, model.__table__)
                n = conn.execute(select(func.count()).where(table.c.message_id == row.message_id)).scalar_one()
                if n:
                    out["records"][label] = n
        out["related"] = conn.execute(
            select(journal).where(journal.c.message_id == row.message_id).order_by(journal.c.id)
        ).all()
    else:  # an attempt that was not stored: its journal reason lists the issues its ACK carried
        out["errors"] = explain_reason(row.reason)
    return out


def explain_reason(reason: str) -> list[dict[str, str]]:
    """The issues of a journal reason (``LOCATION CODE SEVERITY text; …``), explained like an ACK's ERR."""
    out = []
    for part in reason.split("; "):
        tokens = part.split(" ", 3)
        if len(tokens) >= 3 and tokens[1].isdigit() and tokens[2] in ("E", "W", "I"):
            out.append(_explained(tokens[0], tokens[1], tokens[2], tokens[3] if len(tokens) > 3 else ""))
    return out


def _explained(location: str, code: str, severity: str, text: str) -> dict[str, str]:
    try:
        meaning = CODE_TEXT[Code(int(code))]
    except (ValueError, KeyError):
        meaning = ""
    return {"location": location, "where": _where(location), "code": code, "meaning": meaning,
            "severity": severity, "text": text}  # fmt: skip


def explain(ack: str) -> list[dict[str, str]]:
    """Each ERR of an ACK: its location in words, its table 0357 code and meaning, severity, text."""
    out = []
    for segment in ack.replace("\n", "\r").split("\r"):
        fields = segment.split("|")
        if fields[0] != "ERR":
            continue
        location = fields[2] if len(fields) > 2 else ""
        code = (fields[3] if len(fields) > 3 else "").split("^")[0]
        severity, text = (fields[4] if len(fields) > 4 else ""), (fields[8] if len(fields) > 8 else "")
        out.append(_explained(location, code, severity, text))
    return out


def _where(location: str) -> str:
    """ERR-2 in words: ``OBX^1^11`` -> "OBX segment 1, field 11"."""
    parts = location.split("^")
    if not parts or not parts[0]:
        return ""
    words = [f"{parts[0]} segment {parts[1]}" if len(parts) > 1 and parts[1] else parts[0]]
    names = ("field", "repetition", "component", "subcomponent")
    for name, value in zip(names, parts[2:], strict=False):
        if value:
            words.append(f"{name} {value}")
    return ", ".join(words)
