"""The parsed-message model: segments of raw fields, split further only when read.

A `Segment` keeps its fields as raw (still escaped) strings; field N of every segment, MSH
included, is ``segment.fields[N]`` (MSH-1, the field separator, is stored at index 1). Reading
a value splits repetitions, components and subcomponents and decodes escapes on demand, which
is what keeps parsing a 2 KB message in the tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .delimiters import Delimiters
from .errors import Issue
from .escape import unescape


class Segment:
    """One segment: its ID, its 1-based position among segments with that ID, its raw fields."""

    __slots__ = ("d", "fields", "id", "sequence")

    def __init__(self, fields: list[str], sequence: int, d: Delimiters) -> None:
        self.fields = fields
        self.id = fields[0]
        self.sequence = sequence
        self.d = d

    def __repr__(self) -> str:
        return f"<Segment {self.id}#{self.sequence} ({len(self.fields) - 1} fields)>"

    def raw(self, n: int) -> str:
        """Field N exactly as sent (escaped), or "" when absent."""
        f = self.fields
        return f[n] if n < len(f) else ""

    def repetitions(self, n: int) -> list[str]:
        """The raw repetitions of field N (MSH-1 and MSH-2 never split)."""
        value = self.raw(n)
        if not value:
            return []
        if self.id == "MSH" and n <= 2:
            return [value]
        return value.split(self.d.repetition)

    def value(self, n: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """The decoded text at field N, repetition, component and subcomponent (all 1-based)."""
        fields = self.fields
        raw = fields[n] if n < len(fields) else ""  # inlined raw(): value() is on every hot path
        if not raw:
            return ""
        if self.id == "MSH" and n <= 2:
            return raw
        return _pick(raw, self.d, rep, comp, sub)

    def components(self, n: int, rep: int = 1) -> list[str]:
        """The raw components of one repetition of field N."""
        reps = self.repetitions(n)
        if len(reps) < rep:
            return []
        return reps[rep - 1].split(self.d.component)


def _pick(raw: str, d: Delimiters, rep: int, comp: int, sub: int) -> str:
    if d.repetition in raw:
        reps = raw.split(d.repetition)
        if len(reps) < rep:
            return ""
        raw = reps[rep - 1]
    elif rep != 1:
        return ""
    if d.component in raw:
        comps = raw.split(d.component)
        raw = comps[comp - 1] if comp <= len(comps) else ""
    elif comp != 1:
        return ""
    if d.subcomponent in raw:
        subs = raw.split(d.subcomponent)
        raw = subs[sub - 1] if sub <= len(subs) else ""
    elif sub != 1:
        return ""
    return unescape(raw, d)


def part(raw: str, d: Delimiters, comp: int, sub: int = 1) -> str:
    """Decoded component (and subcomponent) of one raw repetition."""
    return _pick(raw, d, 1, comp, sub)


@dataclass(slots=True)
class Message:
    """A parsed ER7 message: its delimiters, its segments, and the warnings parsing raised."""

    d: Delimiters
    segments: list[Segment]
    warnings: list[Issue] = field(default_factory=list)

    @property
    def msh(self) -> Segment:
        """The MSH segment (always first)."""
        return self.segments[0]

    def first(self, seg_id: str) -> Segment | None:
        """The first segment with this ID, or None."""
        for s in self.segments:
            if s.id == seg_id:
                return s
        return None

    def all(self, seg_id: str) -> list[Segment]:
        """Every segment with this ID, in order."""
        return [s for s in self.segments if s.id == seg_id]

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def to_er7(self) -> str:
        """The message written back with CR terminators."""
        out = []
        for s in self.segments:
            if s.id == "MSH":
                out.append("MSH" + self.d.field + self.d.field.join(s.fields[2:]))
            else:
                out.append(self.d.field.join(s.fields))
        return "\r".join(out) + "\r"
