"""ADT^A40 (merge patient, patient identifier list): who survives, who is merged into them."""

from __future__ import annotations

from hub.hl7 import Code, ContentError, Header, Location, Message

from .patient import identifiers_of, map_patient
from .records import Mapped

VERSIONS: frozenset[str] = frozenset({"2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"})


def map_adt_a40(msg: Message, header: Header) -> Mapped:
    """PID is the surviving patient; MRG-1 lists the identifiers of the one merged into it.

    Raises:
        ContentError: AE 100 without MRG, AE 101 when MRG-1 holds no identifier.
    """
    patient = map_patient(msg)
    mrg = msg.first("MRG")
    if mrg is None:
        raise ContentError.at(Code.SEGMENT_SEQUENCE, Location("MRG", 1), "segment MRG manquant", "MRG segment missing")
    merged = identifiers_of(mrg, 1)
    if not merged:
        raise ContentError.at(
            Code.REQUIRED_FIELD_MISSING,
            Location("MRG", 1, 1),
            "aucun identifiant du patient fusionné (MRG-1)",
            "no identifier of the merged patient (MRG-1)",
        )
    return Mapped("registry", patient, merged=merged)
