"""PID -> `Patient`, shared by every domain."""

from __future__ import annotations

from hub.hl7 import Code, ContentError, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.message import part

from .records import Identifier, Patient

# RAMQ, the assigning authority of the NAM (health insurance number), by name and OID.
NAM_AUTHORITIES = frozenset({"RAMQ", "2.16.124.10.101.1.60.100"})
NAM_AUTHORITY = "RAMQ"  # how a NAM's authority is stored, whichever way it was sent
NAM_TYPES = frozenset({"NAM", "JHN"})  # CX-5: JHN (jurisdictional health number) is a NAM without another authority


def map_patient(msg: Message) -> Patient:
    """Map the first PID segment.

    Raises:
        ContentError: AE 100 when there is no PID, AE 101 when PID-3 holds no identifier.
    """
    pid = msg.first("PID")
    if pid is None:
        raise ContentError.at(Code.SEGMENT_SEQUENCE, Location("PID", 1), "segment PID manquant", "PID segment missing")
    identifiers = identifiers_of(pid, 3)
    if not identifiers:
        raise ContentError.at(
            Code.REQUIRED_FIELD_MISSING,
            Location("PID", 1, 3),
            "aucun identifiant patient (PID-3)",
            "no patient identifier (PID-3)",
        )
    birth_raw = pid.value(7, 1)
    return Patient(
        identifiers=identifiers,
        family=pid.value(5, 1, 1),  # XPN-1.1 surname
        given=pid.value(5, 2),
        birth_date=_date(birth_raw),
        birth_date_raw=birth_raw,
        sex=pid.value(8),
        address=_address(pid),
    )


def identifiers_of(seg: Segment, n: int) -> tuple[Identifier, ...]:
    """The CX identifiers of field N (PID-3, MRG-1), each with its repetition number.

    A NAM is one whose authority is RAMQ (by name or OID), or whose type is NAM or JHN with no
    other authority; its authority is then stored as RAMQ, whichever way it was written.
    """
    d = seg.d
    out: list[Identifier] = []
    for number, rep in enumerate(seg.repetitions(n), start=1):
        value = part(rep, d, 1)
        if not value:
            continue
        namespace = part(rep, d, 4, 1)
        oid = part(rep, d, 4, 2)
        type_code = part(rep, d, 5)
        authority = namespace or oid
        by_authority = bool({namespace.upper(), oid} & NAM_AUTHORITIES)
        is_nam = by_authority or (type_code.upper() in NAM_TYPES and not authority)
        if is_nam:
            authority = NAM_AUTHORITY
        out.append(Identifier(value, type_code, authority, oid, is_nam, number))
    return tuple(out)


def _address(pid: Segment) -> str:
    """PID-11's first repetition: street, other, city, province, postal code, country."""
    first = pid.repetitions(11)[:1]
    if not first:
        return ""
    d = pid.d
    return ", ".join(p for p in (part(first[0], d, c) for c in (1, 2, 3, 4, 5, 6)) if p)


def _date(raw: str) -> str | None:
    iso = to_iso(raw)
    return iso[:10] if iso and len(iso) >= 10 else None
