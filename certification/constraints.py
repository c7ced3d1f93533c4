"""A rule set's conformance profile applied to one message: usage, cardinality, length, values.

`certification.ruleset` reads the profile from YAML (pydantic); `index` turns it into plain
`FieldCheck` values by segment ID once, and `check` runs on every message. This module is
compiled with the rest of the hot path (setup.py): interpreted, the loop cost a 2 KB ORU
about 5% of its preparation.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.hl7 import Code, Issue, Location, Message, Segment


class FieldCheck:
    """One field of a profile: where it is, and what it must be."""

    __slots__ = ("cardinality", "forbidden", "length", "n", "path", "required", "values")

    def __init__(
        self,
        path: str,
        usage: str,
        cardinality: tuple[int, int] | None,
        length: int | None,
        values: frozenset[str] | None,
    ) -> None:
        self.path = path  # e.g. PID-3
        self.n = int(path.partition("-")[2])
        self.required = usage == "R"
        self.forbidden = usage == "X"
        self.cardinality = cardinality
        self.length = length
        self.values = values


def index(checks: Iterable[FieldCheck]) -> dict[str, list[FieldCheck]]:
    """The checks by segment ID, in the order given."""
    out: dict[str, list[FieldCheck]] = {}
    for c in checks:
        out.setdefault(c.path.partition("-")[0], []).append(c)
    return out


def check(msg: Message, by_segment: dict[str, list[FieldCheck]]) -> list[Issue]:
    """Every violation of the profile, in segment then field order (severity E)."""
    out: list[Issue] = []
    for seg in msg.segments:
        checks = by_segment.get(seg.id)
        if not checks:
            continue
        fields = seg.fields
        count = len(fields)
        for c in checks:
            n = c.n
            raw = fields[n] if n < count else ""
            if not raw:
                if c.required:
                    out.append(_violation(seg, c, Code.REQUIRED_FIELD_MISSING, "champ requis", "required field"))
                continue
            if c.forbidden:
                out.append(_violation(seg, c, Code.CARDINALITY, "champ non permis", "field not allowed"))
            cardinality, length = c.cardinality, c.length
            if cardinality is not None or length is not None:
                reps = raw.split(seg.d.repetition)
                if cardinality and not cardinality[0] <= len(reps) <= cardinality[1]:
                    texts = ("cardinalité non conforme", "non-conformant cardinality")
                    out.append(_violation(seg, c, Code.CARDINALITY, *texts))
                if length is not None and any(len(r) > length for r in reps):
                    out.append(_violation(seg, c, Code.VALUE_TOO_LONG, "valeur trop longue", "value too long"))
            if c.values is not None and seg.value(n, 1) not in c.values:
                texts = ("valeur hors de l'ensemble permis", "value not in the allowed set")
                out.append(_violation(seg, c, Code.TABLE_VALUE_NOT_FOUND, *texts))
    return out


def _violation(seg: Segment, c: FieldCheck, code: Code, fr: str, en: str) -> Issue:
    return Issue(code, Location(seg.id, seg.sequence, c.n), fr, en, "E", f"profile.{c.path}")
