"""FHIR answers checked against fhir.resources' R4B models, and read back for the tests."""

from __future__ import annotations

import base64
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once its R4B model has validated it (and every resource of a Bundle)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return resource


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """The Bundle's resources (of one type)."""
    found = [e["resource"] for e in valid(bundle).get("entry", [])]
    return [r for r in found if kind is None or r["resourceType"] == kind]


def notices(bundle: dict[str, Any]) -> list[str]:
    """The texts of the Bundle's OperationOutcome issues."""
    return [i["details"]["text"] for o in resources(bundle, "OperationOutcome") for i in o["issue"]]


def presented_text(report: dict[str, Any]) -> str:
    """A DiagnosticReport's text/plain presented form, decoded."""
    return base64.b64decode(report["presentedForm"][0]["data"]).decode("utf-8")
