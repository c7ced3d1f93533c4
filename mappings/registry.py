"""Which mapping handles which message type, per domain, and in which HL7 versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.hl7 import Header, Message

from . import adt, imaging, lab, pharmacy
from .records import Mapped

MapFn = Callable[[Message, Header], Mapped]


@dataclass(frozen=True, slots=True)
class Route:
    """A mapping function and the versions it was written and tested for."""

    mapper: MapFn
    versions: frozenset[str]


ROUTES: dict[str, dict[tuple[str, str], Route]] = {
    "lab": {("ORU", "R01"): Route(lab.map_oru_r01, lab.VERSIONS)},
    "pharmacy": {
        (code, event): Route(pharmacy.map_pharmacy, pharmacy.VERSIONS)
        for code, event in (
            ("RDE", "O11"),  # pharmacy/treatment encoded order: to be dispensed (v2.4+)
            ("RDE", "O01"),  # the same before v2.4, and as some systems still send it
            ("RDE", "O25"),  # refill authorization request: another order on the prescription
            ("RDS", "O13"),  # dispense (v2.4+)
            ("RDS", "O01"),
            ("RAS", "O17"),  # administration (v2.4+)
            ("RAS", "O01"),
        )
    },
    "imaging": {
        ("ORU", "R01"): Route(imaging.map_imaging_report, imaging.VERSIONS),
        ("OMI", "O23"): Route(imaging.map_imaging_order, imaging.VERSIONS),
        ("ORM", "O01"): Route(imaging.map_imaging_order, imaging.VERSIONS),
    },
    "registry": {("ADT", "A40"): Route(adt.map_adt_a40, adt.VERSIONS)},
}


def routes_for(domain: str) -> dict[tuple[str, str], Route]:
    """The message types a channel of this domain accepts."""
    return ROUTES.get(domain, {})
