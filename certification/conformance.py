"""Applying a compiled structure to one parsed message: segment order, then each field.

The structure itself (the regular expression over segment IDs and the per-segment field rules)
is compiled once per (version, message structure) in `certification.structure`.
"""

from __future__ import annotations

from typing import Any

from hub.hl7 import Code, Issue, Location, Message, RejectError, unescape
from hub.hl7.dtm import to_iso

from .structure import (
    _DATES,
    _MAX_MSH_FIELD,
    _TYPED,
    MISSING_FROM_MODEL,
    Compiled,
    FieldRule,
    SegmentRules,
    compile_structure,
    structure_of,
)


def validate_structure(msg: Message, version: str) -> list[Issue]:
    """Every structural violation of `msg` against the reference model of `version`.

    The structure comes from MSH-9.1/9.2 (table 0354), never from the sender's MSH-9.3 alone.

    Raises:
        RejectError: AR 200 when the reference model has no such structure for this version.
    """
    structure = structure_of(msg, version)
    compiled = compile_structure(version, structure)
    if compiled is None and structure in MISSING_FROM_MODEL:
        return [
            Issue(
                Code.OTHER,
                Location("MSH", 1, 9),
                f"structure {structure} absente du modèle de référence : segments non vérifiés",
                f"structure {structure} is not in the reference model: its segments were not checked",
                "W",
            )
        ]
    if compiled is None:
        raise RejectError.at(
            Code.UNSUPPORTED_MESSAGE_TYPE,
            Location("MSH", 1, 9),
            f"structure de message inconnue en v{version}",
            f"message structure unknown in v{version}",
        )
    issues: list[Issue] = []
    label = msg.msh.value(9, 3)
    if label and label != structure:
        issues.append(
            Issue(
                Code.TABLE_VALUE_NOT_FOUND,
                Location("MSH", 1, 9, None, 3),
                f"MSH-9.3 {label} ne correspond pas à MSH-9.1/9.2 ({structure})",
                f"MSH-9.3 {label} does not match MSH-9.1/9.2 ({structure})",
            )
        )
    issues.extend(_sequence(msg, compiled))
    for seg in msg.segments:
        rules = compiled.segments.get(seg.id)
        if rules:
            issues.extend(_fields(seg, rules))
    return issues


def _sequence(msg: Message, compiled: Compiled) -> list[Issue]:
    segs = [s for s in msg.segments if not s.id.startswith("Z")]
    tokens = [f"{s.id};" for s in segs]
    if compiled.pattern.fullmatch("".join(tokens)):
        return []
    low, high = 0, len(tokens)  # the longest prefix that can still start a valid message
    while low < high:
        mid = (low + high + 1) // 2
        if compiled.pattern.fullmatch("".join(tokens[:mid]), partial=True):
            low = mid
        else:
            high = mid - 1
    if low == len(tokens):
        last = segs[-1]
        return [
            Issue(
                Code.SEGMENT_SEQUENCE,
                Location(last.id, last.sequence),
                "segment requis manquant après ce segment",
                "required segment missing after this segment",
                "E",
                "structure.sequence",
            )
        ]
    bad = segs[low]
    return [
        Issue(
            Code.SEGMENT_SEQUENCE,
            Location(bad.id, bad.sequence),
            "segment inattendu à cette position",
            "segment not expected here",
            "E",
            "structure.sequence",
        )
    ]


def _fields(seg: Any, rules: SegmentRules) -> list[Issue]:
    issues: list[Issue] = []
    d, fields, count = seg.d, seg.fields, len(seg.fields)
    first = _MAX_MSH_FIELD + 1 if seg.id == "MSH" else 1  # MSH-1 and MSH-2 are the delimiters
    for n in rules.required:
        if n >= first and (n >= count or not fields[n]):
            issues.append(
                Issue(
                    Code.REQUIRED_FIELD_MISSING,
                    Location(seg.id, seg.sequence, n),
                    "champ requis manquant",
                    "required field missing",
                    "E",
                    "structure.required",
                )
            )
    by_number = rules.by_number
    rep_mark, comp_mark, sub_mark = d.repetition, d.component, d.subcomponent
    for n in rules.numbers:  # only the fields that have something to check, in order
        if n >= count:
            break
        raw = fields[n]
        if not raw or n < first:
            continue
        rule = by_number[n]
        if len(raw) <= rule.shortest and (first > 1 or rep_mark not in raw):
            # One repetition, short enough: the common case, decided here without a call.
            if not rule.valued:
                continue
            value = raw.split(comp_mark, 1)[0] if comp_mark in raw else raw
            if sub_mark in value:
                value = value.split(sub_mark, 1)[0]
            if _value(value, rule) is None:
                continue
        issue = _field(seg, n, raw, rule, d)
        if issue is not None:
            issues.extend(issue)
    return issues


def _field(seg: Any, n: int, raw: str, rule: FieldRule, d: Any) -> list[Issue] | None:
    """Cardinality, length, table and datatype of one present field."""
    issues: list[Issue] = []
    reps = raw.split(d.repetition) if d.repetition in raw and seg.id != "MSH" else [raw]
    if len(reps) > 1 and not rule.repeats:
        issues.append(
            Issue(
                Code.CARDINALITY,
                Location(seg.id, seg.sequence, n),
                "répétitions non permises",
                "field may not repeat",
                "E",
                "structure.cardinality",
            )
        )
    for rep_no, rep in enumerate(reps, start=1):
        rep_at = rep_no if len(reps) > 1 else None
        if len(rep) > rule.shortest:
            too_long = _too_long(rep, rule.lengths, d)
            if too_long is not None:
                loc = Location(seg.id, seg.sequence, n, rep_at, too_long or None)
                issues.append(
                    Issue(Code.VALUE_TOO_LONG, loc, "valeur trop longue", "value too long", "E", "structure.length")
                )
                break
        if rule.table is None and rule.datatype not in _TYPED:
            continue
        value = rep.split(d.component, 1)[0].split(d.subcomponent, 1)[0]
        problem = _value(value, rule)
        if problem:
            code, fr, en = problem
            rule_id = "structure.table" if code is Code.TABLE_VALUE_NOT_FOUND else "structure.datatype"
            issues.append(Issue(code, Location(seg.id, seg.sequence, n, rep_at), fr, en, "E", rule_id))
            break
    return issues or None


def _too_long(rep: str, lengths: tuple[tuple[int, int], ...], d: Any) -> int | None:
    """The first component (0 for the field) longer than its limit, or None."""
    components = rep.split(d.component) if d.component in rep else [rep]
    for n, limit in lengths:
        value = rep if n == 0 else (components[n - 1] if n <= len(components) else "")
        if len(value) > limit and len(unescape(value, d)) > limit:
            return n
    return None


def _value(value: str, rule: FieldRule) -> tuple[Code, str, str] | None:
    table = rule.table
    if table is not None:
        if value in table or not value or value == '""':
            return None
        return Code.TABLE_VALUE_NOT_FOUND, "valeur absente de la table HL7", "value not in the HL7 table"
    if not value or value == '""':
        return None
    datatype = rule.datatype
    if datatype in _DATES:
        if to_iso(value) is None:
            return Code.DATA_TYPE, "date ou heure invalide", "invalid date or time"
    elif datatype in ("NM", "SI") and not _number(value, integer=datatype == "SI"):
        return Code.DATA_TYPE, f"valeur {datatype} invalide", f"invalid {datatype} value"
    return None


def _number(value: str, integer: bool) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return not integer or number.is_integer()
