"""PID -> `Patient`, shared by every domain."""

from __future__ import annotations

from hub.hl7 import Code, ContentError, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.message import part

from .records import Identifier, Patient

# RAMQ, the assigning authority of the NAM (health insurance number), by name and OID.
NAM_AUTHORITIES = frozenset({"RAMQ", "2.16.124.10.101.1.60.100"})


def map_patient(msg: Message) -> Patient:
    """Map the first PID segment.

    Raises:
        ContentError: AE 100 when there is no PID, AE 101 when PID-3 holds no identifier.
    """
    pid = msg.first("PID")
    if pid is None:
        raise ContentError.at(Code.SEGMENT_SEQUENCE, Location("PID", 1), "segment PID manquant", "PID segment missing")
    identifiers = tuple(_identifiers(pid))
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
    )


def _identifiers(pid: Segment) -> list[Identifier]:
    d = pid.d
    out: list[Identifier] = []
    for rep in pid.repetitions(3):
        value = part(rep, d, 1)
        if not value:
            continue
        namespace = part(rep, d, 4, 1)
        oid = part(rep, d, 4, 2)
        type_code = part(rep, d, 5)
        authority = namespace or oid
        is_nam = type_code.upper() == "NAM" or bool({namespace.upper(), oid} & NAM_AUTHORITIES)
        out.append(Identifier(value, type_code, authority, oid, is_nam))
    return out


def _date(raw: str) -> str | None:
    iso = to_iso(raw)
    return iso[:10] if iso and len(iso) >= 10 else None
