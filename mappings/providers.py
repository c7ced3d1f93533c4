"""The practitioners a message names: ordering, prescribing, attending and referring providers."""

from __future__ import annotations

from hub.hl7 import Message
from hub.hl7.message import part

from .records import Provider

# (segment, field): OBR-16 ordering provider, ORC-12 ordering provider, RXE-13 ordering
# provider's DEA (a prescriber's licence in Canada), RXO-14, PV1-7 attending, PV1-8 referring.
PROVIDER_FIELDS = (("OBR", 16), ("ORC", 12), ("RXE", 13), ("RXO", 14), ("PV1", 7), ("PV1", 8))
_WANTED = frozenset(seg for seg, _n in PROVIDER_FIELDS)


def providers(msg: Message) -> tuple[Provider, ...]:
    """Every provider named in these fields (first repetition), once per (field, value as sent)."""
    seen: dict[tuple[str, str], Provider] = {}
    for seg in msg.segments:
        if seg.id not in _WANTED:
            continue
        d = seg.d
        for seg_id, n in PROVIDER_FIELDS:
            if seg.id != seg_id:
                continue
            reps = seg.repetitions(n)
            if not reps or not part(reps[0], d, 1):
                continue
            where = f"{seg_id}-{n}"
            if (where, reps[0]) not in seen:
                seen[(where, reps[0])] = Provider(where, reps[0], part(reps[0], d, 1), part(reps[0], d, 9).upper())
    return tuple(seen.values())
