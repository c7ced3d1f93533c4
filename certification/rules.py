"""Named domain rules in Python: each has an id, a description, a reference, and tests.

A rule is a small callable value (in the manner of attrs' validators): ``rule(msg, ctx)``
returns the issues it finds. The rule set decides which rules run and at what severity.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from hub.hl7 import Code, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.message import part


@dataclass(frozen=True, slots=True)
class Context:
    """What rules may know besides the message."""

    now: datetime
    certification: bool = False  # a certification channel (MSH-11 T) rather than production (P)
    tolerance: timedelta = timedelta(hours=1)


Check = Callable[[Message, Context], list[Issue]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A domain rule: what it checks and where the requirement comes from."""

    id: str
    description: str
    reference: str
    check: Check
    shared: bool = False  # `check` is one pass serving several rules; each issue names its rule

    def __call__(self, msg: Message, ctx: Context, severity: str = "E") -> list[Issue]:
        """Run the check; issues take the rule's id and the rule set's severity."""
        return self.pick(self.check(msg, ctx), severity)

    def pick(self, found: list[Issue], severity: str) -> list[Issue]:
        """This rule's issues among what its check found, at `severity`."""
        if self.shared:
            return [replace(i, severity=severity) for i in found if i.rule == self.id]
        return [replace(i, severity=severity, rule=self.id) for i in found]


def _issue(code: Code, loc: Location, fr: str, en: str) -> Issue:
    return Issue(code, loc, fr, en)


# -- common ------------------------------------------------------------------------------
def _msh7_present(msg: Message, ctx: Context) -> list[Issue]:
    if msg.msh.value(7, 1):
        return []
    return [_issue(Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 7), "MSH-7 absent", "MSH-7 missing")]


DATE_FIELDS = {"MSH": (7,), "PID": (7,), "OBR": (7, 22), "OBX": (14,)}


def _dates(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    limit = ctx.now + ctx.tolerance
    for seg in msg.segments:
        for n in DATE_FIELDS.get(seg.id, ()):
            value = seg.value(n, 1)
            if not value:
                continue
            iso = to_iso(value)
            if iso is None:
                out.append(_issue(Code.DATA_TYPE, Location(seg.id, seg.sequence, n), "date invalide", "invalid date"))
            elif _as_datetime(iso) > limit:
                out.append(
                    _issue(
                        Code.DATA_TYPE, Location(seg.id, seg.sequence, n), "date dans le futur", "date in the future"
                    )
                )
    return out


@lru_cache(maxsize=8192)
def _as_datetime(iso: str) -> datetime:
    dt = datetime.fromisoformat(iso if len(iso) > 7 else iso + "-01" if len(iso) == 7 else iso + "-01-01")
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _processing_id(msg: Message, ctx: Context) -> list[Issue]:
    expected = "T" if ctx.certification else "P"
    if msg.msh.value(11, 1) == expected:
        return []
    return [
        _issue(
            Code.UNSUPPORTED_PROCESSING_ID,
            Location("MSH", 1, 11),
            f"MSH-11 doit être {expected}",
            f"MSH-11 must be {expected}",
        )
    ]


# -- NAM -----------------------------------------------------------------------------------
NAM_RE = re.compile(r"[A-Z]{4}\d{8}")
NAM_AUTHORITIES = frozenset({"RAMQ", "2.16.124.10.101.1.60.100"})


def _nams(msg: Message) -> Iterator[tuple[Segment, int, str]]:
    pid = msg.first("PID")
    if pid is None:
        return
    for rep_no, rep in enumerate(pid.repetitions(3), start=1):
        d = pid.d
        authority = {part(rep, d, 4, 1).upper(), part(rep, d, 4, 2)}
        if part(rep, d, 5).upper() == "NAM" or authority & NAM_AUTHORITIES:
            yield pid, rep_no, part(rep, d, 1)


def _nam_birth(nam: str) -> tuple[int, int, int, bool] | None:
    """(year 2 digits, month, day, female) when the date part is plausible."""
    yy, mm, dd = int(nam[4:6]), int(nam[6:8]), int(nam[8:10])
    female = mm > 50
    month = mm - 50 if female else mm
    if not (1 <= month <= 12 and 1 <= dd <= 31):
        return None
    return yy, month, dd, female


def _nam_format(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    for pid, rep, nam in _nams(msg):
        if not NAM_RE.fullmatch(nam) or _nam_birth(nam) is None:
            out.append(_issue(Code.DATA_TYPE, Location("PID", pid.sequence, 3, rep), "NAM mal formé", "malformed NAM"))
    return out


def _fold(text: str) -> str:
    """Upper case, accents folded, letters only (Lœwy -> LOEWY)."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in plain.upper() if c.isalpha())


def _nam_consistency(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    for pid, rep, nam in _nams(msg):
        birth = _nam_birth(nam) if NAM_RE.fullmatch(nam) else None
        if birth is None:
            continue  # the format rule reports it
        problems = []
        surname, given = _fold(pid.value(5, 1, 1)), _fold(pid.value(5, 2))
        if surname and nam[:3] != (surname + "XX")[:3]:
            problems.append("PID-5")
        if given and nam[3] != given[0]:
            problems.append("PID-5")
        born = to_iso(pid.value(7, 1))
        yy, month, day, female = birth
        if born and len(born) >= 10 and (int(born[2:4]), int(born[5:7]), int(born[8:10])) != (yy, month, day):
            problems.append("PID-7")
        sex = pid.value(8).upper()
        if sex in ("F", "M") and (sex == "F") != female:
            problems.append("PID-8")
        if problems:
            fields = ", ".join(sorted(set(problems)))
            out.append(
                _issue(
                    Code.DATA_TYPE,
                    Location("PID", pid.sequence, 3, rep),
                    f"NAM incohérent avec {fields}",
                    f"NAM inconsistent with {fields}",
                )
            )
    return out


# -- DIN -----------------------------------------------------------------------------------
DIN_FIELDS = (("RXO", 1), ("RXE", 2), ("RXD", 2), ("RXG", 4), ("RXA", 5))


def _din(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    for seg in msg.segments:
        for seg_id, n in DIN_FIELDS:
            if seg.id != seg_id:
                continue
            for pair in ((1, 3), (4, 6)):
                if seg.value(n, pair[1]).upper() == "DIN" and not re.fullmatch(r"\d{8}", seg.value(n, pair[0])):
                    out.append(
                        _issue(
                            Code.DATA_TYPE,
                            Location(seg.id, seg.sequence, n, None, pair[0]),
                            "DIN : 8 chiffres attendus",
                            "DIN: 8 digits expected",
                        )
                    )
    return out


# -- lab -----------------------------------------------------------------------------------
LOINC_SYSTEMS = frozenset({"LN", "LNC", "LOINC", "PCLOCD", "2.16.840.1.113883.2.20.5.1"})
TABLE_0085 = frozenset("CDFINOPRSUWX")


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_SN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)?")


def _lab_obx(msg: Message, ctx: Context) -> list[Issue]:
    """The four lab rules in one pass over the OBX segments (shared: each issue names its rule).

    Each OBX field is split once here, where four separate passes would split it four times.
    """
    out: list[Issue] = []
    for obx in msg.segments:
        if obx.id != "OBX":
            continue
        fields, d, seq = obx.fields, obx.d, obx.sequence
        count = len(fields)
        value_type = obx.value(2)
        # lab.obx3-coded: coding system in component 3, else in the alternate component 6
        comps = (fields[3] if count > 3 else "").split(d.repetition, 1)[0].split(d.component)
        systems = {part(c, d, 1).upper() for c in comps[2:3] + comps[5:6]}
        if not systems & LOINC_SYSTEMS:
            out.append(
                Issue(
                    Code.TABLE_VALUE_NOT_FOUND,
                    Location("OBX", seq, 3),
                    "OBX-3 doit être codé LOINC ou pCLOCD",
                    "OBX-3 must be coded in LOINC or pCLOCD",
                    rule="lab.obx3-coded",
                )
            )
        # lab.value-type and lab.nm-units: only where OBX-5 holds something
        if count > 5 and fields[5]:
            if not _agrees(obx, value_type):
                out.append(
                    Issue(
                        Code.DATA_TYPE,
                        Location("OBX", seq, 5),
                        f"OBX-5 ne correspond pas à OBX-2 {value_type}",
                        f"OBX-5 does not match OBX-2 {value_type}",
                        rule="lab.value-type",
                    )
                )
            if value_type == "NM" and not obx.value(6, 1):
                out.append(
                    Issue(
                        Code.REQUIRED_FIELD_MISSING,
                        Location("OBX", seq, 6),
                        "unités OBX-6 manquantes",
                        "OBX-6 units missing",
                        rule="lab.nm-units",
                    )
                )
        # lab.obx11-status
        if obx.value(11) not in TABLE_0085:
            out.append(
                Issue(
                    Code.TABLE_VALUE_NOT_FOUND,
                    Location("OBX", seq, 11),
                    "OBX-11 hors table 0085",
                    "OBX-11 not in table 0085",
                    rule="lab.obx11-status",
                )
            )
    return out


def _agrees(obx: Segment, value_type: str) -> bool:
    """Whether OBX-5 (present) is a value of the type OBX-2 declares."""
    if value_type == "NM":
        return _NUMBER.fullmatch(obx.value(5, 1).strip()) is not None
    if value_type == "SN":
        return _SN_NUMBER.fullmatch(obx.value(5, 2).strip()) is not None
    if value_type in ("DT", "TS", "DTM"):
        return to_iso(obx.value(5, 1)) is not None
    if value_type in ("CE", "CWE", "CNE"):
        return bool(obx.value(5, 1) or obx.value(5, 4))
    return True


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
