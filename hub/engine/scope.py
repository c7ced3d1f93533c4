"""Identifiers are scoped to the authorities their sender holds (step 5, after the mapping).

A NAM is provincial: any partner may send it. A local identifier (an MRN) belongs to the
assigning authority in PID-3.4 (MRG-1.4 for an A40), which must be one the partner declares
(`partners[].authorities`, by namespace or OID); an empty PID-3.4 is read as the partner's
first authority. Anything else is AE 103 at the repetition's CX-4: a partner can't file into a
record kept under another facility's authority.
"""

from __future__ import annotations

from collections.abc import Sequence

from certification.identity import nam_doubtful
from hub.hl7 import Code, ContentError, Issue, Location, Message
from mappings import Identifier, Mapped
from mappings.providers import providers

DEFAULT_NAM_TOLERANCE = 1  # a channel without a rule set: one of PID-5.1/5.2/7/8 may disagree


def scope(mapped: Mapped, msg: Message, authorities: Sequence[str], tolerance: int) -> Mapped:
    """The mapped message with its identifiers' authorities settled, its NAM checked, its providers listed.

    The records are settled in place: `mapped` is the mapping's own, built for this message
    a step earlier, and nothing else holds it yet (a copy per record cost more than the
    scoping itself). On AE 103 nothing was changed.

    Raises:
        ContentError: AE 103 at each identifier under an authority the partner does not hold.
    """
    issues: list[Issue] = []
    patient = mapped.patient
    ids = _scoped(patient.identifiers, "PID", 3, authorities, issues)
    merged = _scoped(mapped.merged, "MRG", 1, authorities, issues) if mapped.merged else []
    if issues:
        raise ContentError(*issues)
    for ident, authority in (*ids, *merged):
        ident.authority = authority
    patient.nam_doubtful = nam_doubtful(patient, tolerance)
    mapped.providers = providers(msg)
    return mapped


def _scoped(
    identifiers: Sequence[Identifier], seg: str, field: int, authorities: Sequence[str], issues: list[Issue]
) -> list[tuple[Identifier, str]]:
    """The local identifiers with the authority each is filed under; an issue for each one not held."""
    held = {a.upper(): a for a in authorities}
    out = []
    for ident in identifiers:
        if ident.is_nam:
            continue
        if not ident.authority:
            if authorities:
                out.append((ident, authorities[0]))
                continue
            fr, en = "PID-3.4 vide et aucune autorité déclarée", "empty PID-3.4 and no authority declared"
        else:
            mine = held.get(ident.authority.upper()) or held.get(ident.authority_oid.upper())
            if mine:
                out.append((ident, mine))
                continue
            fr, en = "autorité d'attribution non détenue par l'expéditeur", "assigning authority not held by the sender"
        where = Location(seg, 1, field, ident.repetition, 4)
        issues.append(Issue(Code.TABLE_VALUE_NOT_FOUND, where, fr, en))
    return out
