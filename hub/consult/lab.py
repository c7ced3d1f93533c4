"""Lab results as FHIR: a DiagnosticReport per order (OBR), an Observation per result (OBX).

Codes keep their system (LOINC, pCLOCD, local), a numeric value is a UCUM Quantity, the
reference range is low/high when it reads as a range, the OBX-8 flags are the interpretation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hub.store.models import LabObservation, LabOrder

from .chart import Chart
from .fhir import UCUM, coding, when
from .items import Item, meta

# OBX-11 / OBR-25 result status (HL7 tables 0085 and 0123) -> FHIR.
_OBS_STATUS = {
    "F": "final", "C": "corrected", "A": "amended", "P": "preliminary", "R": "preliminary", "S": "preliminary",
    "I": "registered", "O": "registered", "X": "cancelled", "D": "entered-in-error", "W": "entered-in-error",
}  # fmt: skip
_REPORT_STATUS = {
    "F": "final", "C": "corrected", "A": "partial", "P": "preliminary", "R": "partial", "S": "partial",
    "I": "registered", "O": "registered", "X": "cancelled", "Y": "cancelled", "Z": "cancelled",
}  # fmt: skip
_SECTIONS = "http://terminology.hl7.org/CodeSystem/v2-0074"  # OBR-24 diagnostic service sections
_FLAGS = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
_RANGE = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*-\s*(-?\d+(?:[.,]\d+)?)\s*$")
_UCUM_CODE = re.compile(r"^[!-~]+$")  # printable ASCII without spaces: usable as a UCUM code


def lab_items(chart: Chart) -> list[Item]:
    """A DiagnosticReport per order key and an Observation per result key, every version of each."""
    ref = f"Patient/{chart.patient.id}"
    order_of: dict[int, LabOrder] = {o.id: o for versions in chart.orders.values() for o in versions}
    items: list[Item] = []
    results: dict[str, list[str]] = {}
    for versions in chart.observations.values():
        order = order_of.get(versions[-1].order_id)
        obs_id = f"obs-{versions[0].id}"
        if order is not None:
            results.setdefault(order.key, []).append(obs_id)
        current = versions[-1]
        clinical = current.observed_at or (order.observed_at if order is not None else None)
        received = chart.received.get(current.message_id)
        rendered = [_observation(o, obs_id, ref, chart) for o in versions]
        items.append(Item("Observation", obs_id, rendered, clinical or None, received))
    for key, order_versions in chart.orders.items():
        current_order = order_versions[-1]
        rid = f"lab-{order_versions[0].id}"
        rendered = [_report(o, rid, ref, chart, results.get(key, [])) for o in order_versions]
        received = chart.received.get(current_order.message_id)
        items.append(Item("DiagnosticReport", rid, rendered, current_order.observed_at or None, received))
    return items


def _observation(o: LabObservation, obs_id: str, ref: str, chart: Chart) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": meta(o.version, chart.received.get(o.message_id)),
        "status": _OBS_STATUS.get(o.status.upper()[:1], "unknown") if o.status else "unknown",
        "category": [_CATEGORY],
        "code": coding(o.code, o.code_system, o.code_text),
        "subject": {"reference": ref},
    }
    if o.alt_code:
        out["code"].setdefault("coding", []).append(coding(o.alt_code, o.alt_code_system)["coding"][0])
    effective = when(o.observed_at)
    if effective:
        out["effectiveDateTime"] = effective
    out.update(_value(o))
    if o.reference_range:
        out["referenceRange"] = [_range(o.reference_range, o.units)]
    flags = [f for f in re.split(r"[~,]", o.abnormal_flags or "") if f.strip()]
    if flags:
        out["interpretation"] = [{"coding": [{"system": _FLAGS, "code": f.strip()}]} for f in flags]
    if o.notes and o.notes != "[]":
        out["note"] = [{"text": n} for n in json.loads(o.notes)]
    return out


def _value(o: LabObservation) -> dict[str, Any]:
    if o.value_num is not None and o.value_type in ("NM", "SN", ""):
        quantity: dict[str, Any] = {"value": o.value_num}
        if o.units:
            quantity["unit"] = o.units
            if _UCUM_CODE.match(o.units):
                quantity |= {"system": UCUM, "code": o.units}
        return {"valueQuantity": quantity}
    if o.value_text:
        return {"valueString": o.value_text}
    return {}


def _range(text: str, units: str) -> dict[str, Any]:
    m = _RANGE.match(text)
    if not m:
        return {"text": text}

    def bound(v: str) -> dict[str, Any]:
        q: dict[str, Any] = {"value": float(v.replace(",", "."))}
        if units:
            q["unit"] = units
            if _UCUM_CODE.match(units):
                q |= {"system": UCUM, "code": units}
        return q

    return {"low": bound(m.group(1)), "high": bound(m.group(2)), "text": text}


def _report(o: LabOrder, rid: str, ref: str, chart: Chart, results: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "meta": meta(o.version, chart.received.get(o.message_id)),
        "status": _REPORT_STATUS.get(o.status.upper()[:1], "unknown") if o.status else "unknown",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": o.section or "LAB"}]}
        ],
        "code": coding(o.code, o.code_system, o.code_text),
        "subject": {"reference": ref},
    }
    identifiers = [v for v in (o.filler_number, o.placer_number) if v]
    if identifiers:
        out["identifier"] = [{"value": v} for v in identifiers]
    effective, issued = when(o.observed_at), when(o.reported_at)
    if effective:
        out["effectiveDateTime"] = effective
    if issued and "T" in issued:
        out["issued"] = issued
    if results:
        out["result"] = [{"reference": f"Observation/{r}"} for r in results]
    return out
