"""Small readers every domain mapping shares."""

from __future__ import annotations

from hub.hl7 import Segment
from hub.hl7.message import part


def person(raw: str, seg: Segment) -> str:
    """The first repetition of an XCN as ``family, given (id)``."""
    if not raw:
        return ""
    d = seg.d
    first = raw.split(d.repetition, maxsplit=1)[0]
    ident, family, given = (part(first, d, i) for i in (1, 2, 3))
    name = ", ".join(p for p in (family, given) if p)
    return f"{name} ({ident})" if ident and name else (name or ident)
