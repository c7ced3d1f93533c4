"""Which mapping handles which message type, per domain, and in which HL7 versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.hl7 import Header, Message

from . import lab
from .records import Mapped

MapFn = Callable[[Message, Header], Mapped]


@dataclass(frozen=True, slots=True)
class Route:
    """A mapping function and the versions it was written and tested for."""

    mapper: MapFn
    versions: frozenset[str]


ROUTES: dict[str, dict[tuple[str, str], Route]] = {
    "lab": {("ORU", "R01"): Route(lab.map_oru_r01, lab.VERSIONS)},
}


def routes_for(domain: str) -> dict[tuple[str, str], Route]:
    """The message types a channel of this domain accepts."""
    return ROUTES.get(domain, {})
