"""Identity rules: the NAM (RAMQ health insurance number) and the DIN (Health Canada drug number)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from hub.hl7 import Code, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.message import part
from mappings import Patient

from .context import Context, issue

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
            out.append(issue(Code.DATA_TYPE, Location("PID", pid.sequence, 3, rep), "NAM mal formé", "malformed NAM"))
    return out


def _fold(text: str) -> str:
    """Upper case, accents folded, letters only (Lœwy -> LOEWY)."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in plain.upper() if c.isalpha())


def disagreements(nam: str, family: str, given: str, born: str | None, sex: str) -> list[str]:
    """Which of PID-5 (surname letters, given initial), PID-7 and PID-8 a NAM contradicts.

    Empty when the NAM is malformed (the format rule reports that) or agrees with all four.
    """
    birth = _nam_birth(nam) if NAM_RE.fullmatch(nam) else None
    if birth is None:
        return []
    problems = []
    surname, first = _fold(family), _fold(given)
    if surname and nam[:3] != (surname + "XX")[:3]:
        problems.append("PID-5.1")
    if first and nam[3] != first[0]:
        problems.append("PID-5.2")
    yy, month, day, female = birth
    if born and len(born) >= 10 and (int(born[2:4]), int(born[5:7]), int(born[8:10])) != (yy, month, day):
        problems.append("PID-7")
    sex = sex.upper()
    if sex in ("F", "M") and (sex == "F") != female:
        problems.append("PID-8")
    return problems


def nam_doubtful(patient: Patient, tolerance: int) -> bool:
    """Whether a NAM of the mapped patient contradicts more of PID-5/7/8 than `tolerance` allows."""
    for ident in patient.identifiers:
        if ident.is_nam:
            found = disagreements(ident.value, patient.family, patient.given, patient.birth_date, patient.sex)
            if len(found) > tolerance:
                return True
    return False


def _nam_consistency(msg: Message, ctx: Context) -> list[Issue]:
    out = []
    for pid, rep, nam in _nams(msg):
        found = disagreements(nam, pid.value(5, 1, 1), pid.value(5, 2), to_iso(pid.value(7, 1)), pid.value(8))
        if found:
            fields = ", ".join(sorted({f.split(".")[0] for f in found}))
            out.append(
                issue(
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
                        issue(
                            Code.DATA_TYPE,
                            Location(seg.id, seg.sequence, n, None, pair[0]),
                            "DIN : 8 chiffres attendus",
                            "DIN: 8 digits expected",
                        )
                    )
    return out
