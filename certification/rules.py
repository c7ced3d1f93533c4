"""Named domain rules in Python: each has an id, a description, a reference, and tests.

A rule is a small callable value (in the manner of attrs' validators): ``rule(msg, ctx)``
returns the issues it finds. The rule set decides which rules run and at what severity.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from hub.hl7 import Code, Issue, Location, Message
from hub.hl7.dtm import to_iso

from .context import Check, Context, Rule, issue
from .identity import _din, _nam_consistency, _nam_format
from .lab_rules import _lab_obx

__all__ = ["RULES", "Check", "Context", "Rule"]


# -- common ------------------------------------------------------------------------------
def _msh7_present(msg: Message, ctx: Context) -> list[Issue]:
    if msg.msh.value(7, 1):
        return []
    return [issue(Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 7), "MSH-7 absent", "MSH-7 missing")]


DATE_FIELDS = {"MSH": (7,), "PID": (7,), "OBR": (7, 22), "OBX": (14,)}


def _dates(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    limit = _micros(ctx.now + ctx.tolerance)
    for seg in msg.segments:
        for n in DATE_FIELDS.get(seg.id, ()):
            value = seg.value(n, 1)
            if not value:
                continue
            iso = to_iso(value)
            if iso is None:
                out.append(issue(Code.DATA_TYPE, Location(seg.id, seg.sequence, n), "date invalide", "invalid date"))
            elif _iso_micros(iso) > limit:
                out.append(
                    issue(Code.DATA_TYPE, Location(seg.id, seg.sequence, n), "date dans le futur", "date in the future")
                )
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """An aware instant as whole microseconds since the epoch: exact, and an int compares cheaply.

    Comparing two aware datetimes in different zones asks each for its offset and builds the
    differences (about 7,000 instructions in callgrind); comparing two ints costs next to nothing.
    """
    return (at - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=8192)
def _iso_micros(iso: str) -> int:
    """An ISO date or date-time from `to_iso` as `_micros`; no zone means UTC, a missing month or day the first."""
    dt = datetime.fromisoformat(iso if len(iso) > 7 else iso + "-01" if len(iso) == 7 else iso + "-01-01")
    return _micros(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def _processing_id(msg: Message, ctx: Context) -> list[Issue]:
    expected = "T" if ctx.certification else "P"
    if msg.msh.value(11, 1) == expected:
        return []
    return [
        issue(
            Code.UNSUPPORTED_PROCESSING_ID,
            Location("MSH", 1, 11),
            f"MSH-11 doit être {expected}",
            f"MSH-11 must be {expected}",
        )
    ]


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "common.msh7-present", "MSH-7, the message date and time, is present", "HL7 v2.5.1 2.14.9.7", _msh7_present
        ),
        Rule(
            "common.dates",
            "Dates and times are valid and not in the future beyond the tolerance",
            "TGV common requirements (project)",
            _dates,
        ),
        Rule(
            "common.processing-id",
            "MSH-11 is P on production channels and T on certification channels",
            "HL7 table 0103; TGV (project)",
            _processing_id,
        ),
        Rule(
            "nam.format",
            "PID-3 NAM: 3 letters of the surname, 1 of the given name, YYMMDD (+50 for women), 2 digits",
            "RAMQ health insurance card (dsq-context.md, hl7-protocol.md 4.3)",
            _nam_format,
        ),
        Rule(
            "nam.consistency",
            "The NAM agrees with PID-5 initials (accents folded), PID-7 and PID-8",
            "MSSS identification rules (hl7-protocol.md 4.3)",
            _nam_consistency,
        ),
        Rule("din.format", "A DIN is 8 digits, kept as text", "Health Canada DIN (hl7-protocol.md 4.4)", _din),
        Rule("lab.obx3-coded", "OBX-3 is coded in LOINC or pCLOCD", "pCLOCD (hl7-protocol.md 4.4)", _lab_obx, True),
        Rule(
            "lab.value-type",
            "OBX-5 agrees with OBX-2 (NM, SN, DT/TS/DTM, CE/CWE)",
            "HL7 v2.5.1 7.4.2",
            _lab_obx,
            True,
        ),
        Rule("lab.nm-units", "NM values carry OBX-6 units", "TGV lab requirements (project)", _lab_obx, True),
        Rule("lab.obx11-status", "OBX-11 is in HL7 table 0085", "HL7 table 0085", _lab_obx, True),
    )
}
