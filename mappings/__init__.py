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
    "Route",
    "routes_for",
]
