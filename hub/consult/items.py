"""One resource of a chart: its type and id, every version as FHIR JSON, and the date it is released by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fhir import instant


@dataclass(slots=True)
class Item:
    """A clinical resource: versions oldest first (the last is current), and its clinical date."""

    type: str
    id: str
    versions: list[dict[str, Any]]
    clinical: str | None  # the ISO date it was produced clinically, if the record has one
    received: datetime | None  # when the hub received its current version
    notices: frozenset[str] = field(default_factory=frozenset)  # e.g. "drug-code": its code is not recognized

    @property
    def current(self) -> dict[str, Any]:
        """The current version."""
        return self.versions[-1]


def meta(version: int, received: datetime | None) -> dict[str, Any]:
    """A version's meta: its number, and when the hub received it."""
    out: dict[str, Any] = {"versionId": str(version)}
    if received is not None:
        out["lastUpdated"] = instant(received)
    return out
