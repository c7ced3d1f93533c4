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

    def parts(self, n: int) -> list[str]:
        """Every component of field N's first repetition, decoded: ``parts(n)[c - 1] == value(n, c)``.

        One split for a field whose components are all read (OBX-3's six), instead of one per
        component.
        """
        fields = self.fields
        raw = fields[n] if n < len(fields) else ""
        if not raw:
            return []
        if self.id == "MSH" and n <= 2:
            return [raw]
        d = self.d
        if d.repetition in raw:
            raw = raw.split(d.repetition, 1)[0]
        sub, esc = d.subcomponent, d.escape
        out = raw.split(d.component) if d.component in raw else [raw]
        for i, comp in enumerate(out):
            first = comp.split(sub, 1)[0] if sub in comp else comp
            if first is not comp or (esc and esc in first):
                out[i] = unescape(first, d) if esc and esc in first else first
        return out

    def components(self, n: int, rep: int = 1) -> list[str]:
        """The raw components of one repetition of field N."""
        reps = self.repetitions(n)
        if len(reps) < rep:
            return []
        return reps[rep - 1].split(self.d.component)


def _pick(raw: str, d: Delimiters, rep: int, comp: int, sub: int) -> str:
    mark = d.repetition
    if mark in raw:
        reps = raw.split(mark)
        if len(reps) < rep:
            return ""
        raw = reps[rep - 1]
    elif rep != 1:
        return ""
    mark = d.component
    if mark in raw:
        comps = raw.split(mark, comp)  # no need to split past the component asked for
        if comp > len(comps):
            return ""
        raw = comps[comp - 1]
    elif comp != 1:
        return ""
    mark = d.subcomponent
    if mark in raw:
        subs = raw.split(mark, sub)
        if sub > len(subs):
            return ""
        raw = subs[sub - 1]
    elif sub != 1:
        return ""
    mark = d.escape
    return unescape(raw, d) if mark and mark in raw else raw  # most values hold no escape


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
