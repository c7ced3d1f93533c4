"""What a consultation asks for: the FHIR interaction named by the method, path and query.

Read-only: ``GET`` (and ``HEAD``) only; anything else is 405. Paths below the channel's base:
``metadata``; ``Patient?identifier=system|value``; ``Patient/<id>``;
``Patient/<id>/$everything``; ``<Type>?patient=<id>`` (Observation also by ``code`` and ``date``);
``<Type>/<id>`` and ``<Type>/<id>/_history``; ``AuditEvent?patient=<id>`` (privacy systems).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.interfaces import Consultation

from .tokens import Denied

CLINICAL = (
    "Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense", "MedicationAdministration",
    "ServiceRequest", "ImagingStudy", "DocumentReference",
)  # fmt: skip
SEARCHABLE = ("Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense", "ImagingStudy")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PARAMS = {
    "Patient": {"identifier"},
    "Observation": {"patient", "code", "date"},
    "AuditEvent": {"patient"},
}
_COMMON = {"_format"}  # accepted and ignored: the channel answers JSON only


@dataclass(frozen=True, slots=True)
class Route:
    """One interaction: its kind, the resource type, the id, the search parameters."""

    kind: str  # metadata, search, read, everything, history
    type: str = ""
    id: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> list[str]:
        """Every value given for a parameter."""
        return [v for k, v in self.params if k == name]

    @property
    def domain(self) -> str:
        """The partner domain the interaction needs."""
        return "privacy" if self.type == "AuditEvent" else "consultation"


def route(request: Consultation) -> Route:
    """The interaction this request asks for.

    Raises:
        Denied: 405 for a write verb, 404 for an unknown path or type, 400 for a bad parameter.
    """
    if request.method not in ("GET", "HEAD"):
        raise Denied(405, "method-not-allowed", "lecture seule / read-only: GET only")
    parts = [p for p in request.path.split("/") if p]
    if parts == ["metadata"]:
        return Route("metadata")
    if not parts or parts[0] not in ("Patient", "AuditEvent", *CLINICAL):
        raise Denied(404, "not-found", "ressource inconnue / unknown resource type or path")
    kind, type_, id_ = _shape(parts)
    if id_ and not _ID.match(id_):
        raise Denied(404, "not-found", "identifiant invalide / invalid resource id")
    params = tuple((k, v) for k, v in request.query if k not in _COMMON)
    if kind == "search":
        allowed = _PARAMS.get(type_, {"patient"})
        unknown = sorted({k for k, _ in params} - allowed)
        if unknown:
            raise Denied(400, "bad-parameter", f"paramètre non pris en charge / unsupported parameter: {unknown[0]}")
        needed = "identifier" if type_ == "Patient" else "patient"
        values = [v for k, v in params if k == needed]
        if len(values) != 1 or not values[0]:
            raise Denied(400, "bad-parameter", f"un seul paramètre {needed} requis / exactly one {needed} is required")
        if type_ not in (*SEARCHABLE, "Patient", "AuditEvent"):
            raise Denied(400, "bad-parameter", "recherche non prise en charge / search not supported on this type")
    elif params:
        raise Denied(400, "bad-parameter", "paramètres non pris en charge / parameters not supported here")
    return Route(kind, type_, id_, params)


def _shape(parts: list[str]) -> tuple[str, str, str]:
    type_ = parts[0]
    if len(parts) == 1:
        return "search", type_, ""
    if len(parts) == 2:
        return "read", type_, parts[1]
    if len(parts) == 3 and type_ == "Patient" and parts[2] == "$everything":
        return "everything", type_, parts[1]
    if len(parts) == 3 and parts[2] == "_history" and type_ != "AuditEvent":
        return "history", type_, parts[1]
    raise Denied(404, "not-found", "ressource inconnue / unknown resource type or path")
