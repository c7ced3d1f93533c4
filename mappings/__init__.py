"""Pure mappings: parsed message -> plain record dataclasses. No Twisted, no SQLAlchemy."""

from .records import Identifier, LabOrder, Mapped, Observation, Patient
from .registry import ROUTES, Route, routes_for

__all__ = ["ROUTES", "Identifier", "LabOrder", "Mapped", "Observation", "Patient", "Route", "routes_for"]
