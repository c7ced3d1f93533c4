"""FHIR R4 JSON, the parts every resource shares: code systems, dates, Patient, OperationOutcome, Bundle.

Resources are plain dicts serialized once per response. Every kind served is validated against
fhir.resources' R4B models in the tests (R4B runs on pydantic 2; the wire format is R4's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from hub.store.models import Patient, PatientIdentifier

from .release import LOCAL

NAM_SYSTEM = "https://fhir.infoway-inforoute.ca/NamingSystem/ca-qc-health-insurance-number"
MRN_PREFIX = "urn:passerelle:authority:"  # a local identifier's system: this prefix and its PID-3.4 authority
PROJECT = "urn:passerelle:fhir:"  # extensions and code systems of this hub's own
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DIN = "http://hl7.org/fhir/NamingSystem/ca-hc-din"
DICOM_UID = "urn:dicom:uid"
# HL7 v2 coding systems (table 0396) as FHIR code system URIs; others get the project's prefix.
SYSTEMS = {
    "LN": LOINC,
    "LOINC": LOINC,
    "PCLOCD": "https://fhir.infoway-inforoute.ca/CodeSystem/pCLOCD",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "DIN": DIN,
    "HC-DIN": DIN,
    "2.16.840.1.113883.5.1105": DIN,
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "UCUM": UCUM,
    "DCM": "http://dicom.nema.org/resources/ontology/DCM",
}

FHIR_JSON = "application/fhir+json; charset=utf-8"


def system_uri(v2: str) -> str:
    """The FHIR code system of an HL7 v2 coding system name."""
    name = v2.strip()
    return SYSTEMS.get(name.upper(), f"{PROJECT}codesystem:{name or 'local'}")


def coding(code: str, system: str, text: str = "") -> dict[str, Any]:
    """A CodeableConcept of one v2 coded value (code, its system's name, its text)."""
    out: dict[str, Any] = {}
    if code:
        out["coding"] = [{"system": system_uri(system), "code": code} | ({"display": text} if text else {})]
    if text or not code:
        out["text"] = text or "(sans code / uncoded)"
    return out


def when(value: str | None) -> str | None:
    """An ISO date or time as FHIR dateTime: seconds present, a time without offset read as Québec's."""
    if not value:
        return None
    if "T" not in value:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    return moment.isoformat(timespec="seconds")


@lru_cache(maxsize=4096)  # a chart's records share a few reception times
def instant(moment: datetime) -> str:
    """A stored timestamp as FHIR instant (naive ones are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def identifier_system(ident: PatientIdentifier) -> str:
    """The FHIR system of a stored PID-3 identifier: the NAM's, else its authority's URI."""
    if ident.is_nam:
        return NAM_SYSTEM
    return f"{MRN_PREFIX}{quote(ident.authority, safe='')}"  # "NIST MPI" -> NIST%20MPI: a URI has no space


def patient(p: Patient, identifiers: Iterable[PatientIdentifier]) -> dict[str, Any]:
    """The Patient resource: identifiers (the merged patients' too), name, birth date, sex, address."""
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.id),
        "meta": {"versionId": str(p.version), "lastUpdated": instant(p.updated_at)},
        "identifier": [{"system": identifier_system(i), "value": i.value} for i in identifiers],
        "active": True,
    }
    name = {k: v for k, v in (("family", p.family), ("given", [p.given] if p.given else None)) if v}
    if name:
        out["name"] = [name]
    gender = {"M": "male", "F": "female", "O": "other", "U": "unknown"}.get(p.sex.upper()[:1] if p.sex else "")
    if gender:
        out["gender"] = gender
    if p.birth_date:
        out["birthDate"] = p.birth_date[:10]
    if p.address:
        out["address"] = [{"text": p.address}]
    return out


def outcome(issues: list[tuple[str, str, str]]) -> dict[str, Any]:
    """An OperationOutcome of (severity, code, bilingual text) issues."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": sev, "code": code, "details": {"text": text}} for sev, code, text in issues],
    }


def bundle(kind: str, resources: list[dict[str, Any]], base: str, *, match: int | None = None) -> dict[str, Any]:
    """A Bundle of `kind` (searchset, history); an OperationOutcome is an `outcome` entry of a searchset."""
    entries = []
    for r in resources:
        entry: dict[str, Any] = {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}"} if "id" in r else {}
        entry["resource"] = r
        if kind == "searchset":
            entry["search"] = {"mode": "outcome" if r["resourceType"] == "OperationOutcome" else "match"}
        elif kind == "history":
            entry["request"] = {
                "method": "GET",
                "url": f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}",
            }
            entry["response"] = {"status": "200"}
        entries.append(entry)
    out: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if match is not None:
        out["total"] = match
    out["entry"] = entries
    return out


def dumps(resource: dict[str, Any]) -> bytes:
    """The resource's JSON bytes (UTF-8, French text as is)."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
