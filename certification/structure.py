"""Structural validation compiled from hl7apy's reference model, applied to our parsed message.

For each (version, message structure) the reference tuples are compiled once into:

- a regular expression over segment IDs (groups become ``(?:…)`` with their cardinality), so
  the segment order and the required segments are checked in one match; on a mismatch the
  ``regex`` module's partial matching finds the first segment that can't belong there;
- per segment: which fields are required, which may not repeat, and which HL7-defined table
  (datatype ID) each coded field is bound to, with the table's values.

Applying it walks our already-split fields: no hl7apy object is built per message. User-defined
tables (datatype IS) are site-specific and not enforced; Z-segments are skipped (the partner
profile decides about them, bad-inputs row 33).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import regex

from hub.hl7 import Code, Issue, Location, Message, unescape
from hub.hl7.dtm import to_iso

VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8")

# Where hl7apy's table data lags the standard: values HL7 defines that hl7apy lacks.
ERRATA: dict[tuple[str, str], frozenset[str]] = {
    # Table 0125 (value type) gained CWE, CNE and DTM in v2.5; hl7apy's 2.5 and 2.5.1 tables stop at TS.
    ("2.5", "HL70125"): frozenset({"CWE", "CNE", "DTM"}),
    ("2.5.1", "HL70125"): frozenset({"CWE", "CNE", "DTM"}),
}
_MAX_MSH_FIELD = 2  # MSH-1 and MSH-2 are the delimiters themselves
_DATES = frozenset({"DT", "DTM", "TS"})
_TYPED = _DATES | {"NM", "SI"}


@dataclass(frozen=True, slots=True)
class FieldRule:
    """What the reference model says about one field of one segment."""

    number: int
    required: bool
    repeats: bool
    datatype: str
    table: frozenset[str] | None  # values of an HL7 (ID) table, when bound and known
    checked: bool  # whether a present value needs any check (table, datatype, repetition, length)
    lengths: tuple[tuple[int, int], ...] = ()  # (component, maximum length); component 0 = the whole field
    shortest: int = 1 << 30  # the smallest of those limits: shorter repetitions skip the length walk
    valued: bool = False  # a table or a typed value (NM, SI, dates) to check


@dataclass
class Compiled:
    """One (version, structure), ready to apply."""

    version: str
    structure: str
    pattern: Any  # a compiled `regex` pattern over "SEG;" tokens
    segments: dict[str, SegmentRules] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SegmentRules:
    """A segment's field rules, indexed for a walk over the fields actually present."""

    by_number: dict[int, FieldRule]
    required: tuple[int, ...]
    numbers: tuple[int, ...] = ()  # the keys of by_number, ascending

    @classmethod
    def of(cls, rules: tuple[FieldRule, ...]) -> SegmentRules:
        """Index the rules."""
        checked = {r.number: r for r in rules if r.checked}
        return cls(checked, tuple(r.number for r in rules if r.required), tuple(sorted(checked)))


def _module(version: str, name: str) -> Any:
    return importlib.import_module(f"hl7apy.v{version.replace('.', '_')}.{name}")


def _quant(card: tuple[int, int]) -> str:
    low, high = card
    if (low, high) == (1, 1):
        return ""
    if low == 0 and high == 1:
        return "?"
    return "*" if low == 0 else "+"


def _pattern(children: Any, segments: dict[str, Any]) -> str:
    out = []
    for child in children:
        name, definition, card, kind = child[0], child[1], child[2], child[3]
        if kind == "SEG":
            segments.setdefault(name, definition)
            out.append(f"(?:{name};){_quant(card)}")
        else:  # a group
            out.append(f"(?:{_pattern(definition[1], segments)}){_quant(card)}")
    return "".join(out)


def _max_lengths() -> dict[str, int]:
    """Maximum lengths hl7apy gives its primitive datatypes (ST 199, IS 20, TX 65536, NM 16…)."""
    import hl7apy.base_datatypes as base

    out = {}
    samples: dict[str, Any] = {"ST": "", "FT": "", "IS": "", "TX": "", "GTS": "", "WD": "", "NM": Decimal(1), "SI": 1}
    for name, sample in samples.items():
        limit = getattr(base, name)(sample).max_length
        if limit:
            out[name] = int(limit)
    return out


MAX_LENGTHS = _max_lengths()


def _lengths(leaf: Any) -> tuple[tuple[int, int], ...]:
    """(component, limit) for a primitive field or for the primitive components of a composite."""
    if leaf[0] == "leaf":
        limit = MAX_LENGTHS.get(leaf[2])
        return ((0, limit),) if limit else ()
    out = []
    for n, component in enumerate(leaf[1], start=1):
        sub = component[1]
        if sub[0] == "leaf" and sub[2] in MAX_LENGTHS:
            out.append((n, MAX_LENGTHS[sub[2]]))
    return tuple(out)


def _field_rules(definition: Any, tables: dict[str, Any], version: str) -> tuple[FieldRule, ...]:
    rules = []
    for name, leaf, card, _kind in definition[1]:
        number = int(name.rsplit("_", 1)[1])
        datatype = leaf[2] if isinstance(leaf[2], str) else ""
        table_name = leaf[4] if leaf[0] == "leaf" else None
        values = None
        if table_name and leaf[2] == "ID" and table_name in tables:
            values = frozenset(tables[table_name][1]) | ERRATA.get((version, table_name), frozenset())
        repeats = card[1] != 1
        lengths = _lengths(leaf)
        checked = values is not None or datatype in _TYPED or not repeats or bool(lengths)
        shortest = min((limit for _n, limit in lengths), default=1 << 30)
        valued = values is not None or datatype in _TYPED
        rules.append(FieldRule(number, card[0] >= 1, repeats, datatype, values, checked, lengths, shortest, valued))
    return tuple(rules)


@cache
def compile_structure(version: str, structure: str) -> Compiled | None:
    """The compiled checks for a message structure, or None when the model has no such structure."""
    messages = _module(version, "messages").MESSAGES
    if structure not in messages:
        return None
    try:
        tables = _module(version, "tables").TABLES
    except ModuleNotFoundError:  # hl7apy ships no tables for some versions (2.3)
        tables = {}
    seg_defs: dict[str, Any] = {}
    source = _pattern(messages[structure][1], seg_defs)
    compiled = Compiled(version, structure, regex.compile(source))
    for seg_id, definition in seg_defs.items():
        compiled.segments[seg_id] = SegmentRules.of(_field_rules(definition, tables, version))
    return compiled


def structure_of(msg: Message, version: str) -> str:
    """MSH-9.3, else the structure the model maps the code and event to (e.g. ORU^R01 -> ORU_R01)."""
    explicit = msg.msh.value(9, 3)
    if explicit:
        return explicit
    return f"{msg.msh.value(9, 1)}_{msg.msh.value(9, 2)}"


def validate_structure(msg: Message, version: str) -> list[Issue]:
    """Every structural violation of `msg` against the reference model of `version`."""
    compiled = compile_structure(version, structure_of(msg, version))
    if compiled is None:
        return []
    issues = _sequence(msg, compiled)
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
