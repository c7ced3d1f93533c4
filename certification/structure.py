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

from hub.hl7 import Message

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


# HL7 table 0354: the trigger events whose message structure is not CODE_EVENT. hl7apy's model
# lists the structures but not which event uses which; these are the ones a sender of the
# supported domains (and the registry's ADT) can meet.
EVENT_STRUCTURES: dict[tuple[str, str], str] = {
    **{("ADT", e): "ADT_A01" for e in ("A04", "A08", "A13")},
    **{("ADT", e): "ADT_A05" for e in ("A14", "A28", "A31")},
    **{("ADT", e): "ADT_A39" for e in ("A40", "A41", "A42")},
    ("ADT", "A34"): "ADT_A30",
    ("ADT", "A35"): "ADT_A30",
    ("ORU", "R32"): "ORU_R30",
    ("ACK", ""): "ACK",
}


# Structures HL7 defines that hl7apy's model lacks (in every version it ships): a message of one
# is not refused for the model's gap; its segments are not checked, and a W ERR says so.
MISSING_FROM_MODEL = frozenset({"RDE_O25"})


def structure_of(msg: Message, version: str) -> str:
    """The structure MSH-9.1 and MSH-9.2 name through table 0354 (e.g. ADT^A40 -> ADT_A39).

    MSH-9.3 is the sender's label for it, never the source: `validate_structure` checks it agrees.
    """
    code, event = msg.msh.value(9, 1), msg.msh.value(9, 2)
    return EVENT_STRUCTURES.get((code, event), f"{code}_{event}" if event else code)


@cache
def field_names(version: str, segment: str) -> tuple[str, ...]:
    """The reference model's name of each field of a segment, by position ("Observation Result Status").

    Empty for a segment or version the model does not know (a Z-segment, say).
    """
    try:
        definition = _module(version, "segments").SEGMENTS[segment]
    except (ModuleNotFoundError, KeyError):
        return ()
    return tuple((leaf[3] or "").replace("_", " ").capitalize() for _name, leaf, _card, _kind in definition[1])
