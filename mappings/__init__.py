"""Pure mappings: parsed message -> plain record dataclasses. No Twisted, no SQLAlchemy."""

from .records import (
    Document,
    Identifier,
    ImagingOrder,
    ImagingReport,
    LabOrder,
    Mapped,
    MedicationEvent,
    Observation,
    Patient,
    Provider,
)
from .registry import ROUTES, Route, routes_for

__all__ = [
    "ROUTES",
    "Document",
    "Identifier",
    "ImagingOrder",
    "ImagingReport",
    "LabOrder",
    "Mapped",
    "MedicationEvent",
    "Observation",
    "Patient",
    "Provider",
    "Route",
    "routes_for",
]
