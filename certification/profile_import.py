"""Import a NIST/IGAMT conformance profile (XML) as a rule set's profile constraints.

Field usage, cardinality and maximum length are read for every segment of the profile. Usage
maps R, RE and O as is; X and W (withdrawn) become X; C/CE (conditional) become O, since the
condition predicates are not imported. Segment and group usage are left to the structural check
from the HL7 reference model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from .ruleset import FieldConstraint, MessageProfile, RuleSet

_USAGE = {"R": "R", "RE": "RE", "O": "O", "X": "X", "W": "X", "C": "O", "CE": "O"}


def _parser() -> Any:
    """No entities, no DTD, no network, no huge trees: a profile is data, not a program."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def _int(value: str | None, default: int) -> int:
    return default if value in (None, "", "*") else int(value)


def import_profile(path: Path, rule_id: str, version: str, domain: str) -> tuple[RuleSet, str]:
    """A rule set holding the profile's field constraints per message, and the profile's HL7 version."""
    root = etree.parse(str(path), _parser()).getroot()
    hl7_version = root.get("HL7Version", "")
    segments: dict[str, dict[str, FieldConstraint]] = {}  # by flavor ID (e.g. NTE_1)
    for seg in root.iter("Segment"):
        flavor = seg.get("ID")
        seg_id = seg.get("Name") or flavor
        if not flavor or not seg_id or seg.get("Ref") is not None:
            continue
        fields: dict[str, FieldConstraint] = {}
        for n, fld in enumerate(seg.findall("Field"), start=1):
            if seg_id == "MSH" and n <= 2:
                continue  # MSH-1 and MSH-2 are the delimiters, checked by the parser
            usage = _USAGE.get(fld.get("Usage", "O"), "O")
            low, high = _int(fld.get("Min"), 0), _int(fld.get("Max"), 1_000_000)
            max_length = fld.get("MaxLength")
            fields[f"{seg_id}-{n}"] = FieldConstraint(
                usage=usage,
                cardinality=(low, high) if (low, high) != (0, 1_000_000) and usage in ("R", "RE") else None,
                length=None if max_length in (None, "", "*") else int(max_length),
            )
        segments[flavor] = fields
    messages = {}
    for msg in root.iter("Message"):
        used = sorted({s.get("Ref") or "" for s in msg.iter("Segment") if s.get("Ref")})
        merged: dict[str, FieldConstraint] = {}
        for flavor in used:  # several flavors of one segment: the first one read wins
            for field_path, c in segments.get(flavor, {}).items():
                merged.setdefault(field_path, c)
        messages[f"{msg.get('Type')}^{msg.get('Event')}"] = MessageProfile(fields=merged)
    ruleset = RuleSet(id=rule_id, version=version, domain=domain, structure=True, messages=messages, rules=())
    return ruleset, hl7_version
