"""The CapabilityStatement at ``/fhir/metadata``: what the channel serves, read-only."""

from __future__ import annotations

from typing import Any

from .routes import SEARCHABLE

_SEARCH = {
    "Patient": [("identifier", "token")],
    "Observation": [("patient", "reference"), ("code", "token"), ("date", "date")],
    "AuditEvent": [("patient", "reference")],
}
_TYPES = (
    "Patient", "Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense",
    "MedicationAdministration", "ServiceRequest", "ImagingStudy", "DocumentReference", "AuditEvent",
)  # fmt: skip
_VERSIONED = {"Observation", "DiagnosticReport", "MedicationRequest", "ServiceRequest"}


def capability(base: str, *, emergency: bool) -> dict[str, Any]:
    """The statement for a channel at `base`."""
    purposes = "TREAT" + (", ETREAT (emergency, journaled as a security event)" if emergency else "")
    resources = []
    for t in _TYPES:
        interactions = [{"code": "read"}]
        if t in _VERSIONED:
            interactions.append({"code": "history-instance"})
        params = _SEARCH.get(t, [("patient", "reference")] if t in SEARCHABLE else [])
        if params:
            interactions.append({"code": "search-type"})
        entry: dict[str, Any] = {"type": t, "interaction": interactions}
        if t in _VERSIONED:
            entry["versioning"] = "versioned"
        if params:
            entry["searchParam"] = [{"name": n, "type": k} for n, k in params]
        if t == "Patient":
            entry["operation"] = [
                {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-02",
        "publisher": "Passerelle",
        "kind": "instance",
        "implementation": {"description": "Passerelle: consultation du dossier partagé / shared record", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Lecture seule. Chaque requête porte un JWT signé ES256 ou RS256 (iss, sub, purpose_of_use, "
                    f"iat, exp <= 300 s, jti). Finalités : {purposes}. / Read-only; every request carries a "
                    "signed JWT; the patient's refusals are applied and every access is journaled."
                ),
                "security": {"description": "Authorization: Bearer <JWT>, ES256 or RS256, the system's registered key"},
                "resource": resources,
            }
        ],
    }
