"""Medication events as FHIR: MedicationRequest, MedicationDispense, MedicationAdministration.

A prescription's order events are the versions of one MedicationRequest; each dispense and each
administration is a resource of its own.

The drug is a CodeableConcept with the DIN (or the code as sent, under its system) and the text.
A code the rule set did not recognize is marked on the resource itself (an extension) and named
by the Bundle's OperationOutcome.
"""

from __future__ import annotations

from typing import Any

from hub.store.models import MedicationEvent

from .chart import Chart
from .fhir import PROJECT, coding, instant, when
from .items import Item, meta

UNRECOGNIZED = f"{PROJECT}drug-code-not-recognized"
_REQUEST_STATUS = {
    "active": "active", "on-hold": "on-hold", "cancelled": "cancelled", "discontinued": "stopped",
    "completed": "completed", "dispensed": "active", "administered": "active",
}  # fmt: skip
_DISPENSE_STATUS = {"cancelled": "cancelled", "discontinued": "stopped", "on-hold": "on-hold"}
_ADMIN_STATUS = {"cancelled": "not-done", "discontinued": "stopped", "on-hold": "on-hold"}


def medication_items(chart: Chart) -> list[Item]:
    """The prescription (every order event a version of it), each dispense and each administration."""
    ref = f"Patient/{chart.patient.id}"
    items: list[Item] = []
    for events in chart.medications.values():
        described = next((e for e in reversed(events) if e.drug_code or e.drug_name), events[-1])
        drug, notices = _drug(described)
        orders = [e for e in events if e.kind == "order"]
        rx_id = f"rx-{orders[0].id}" if orders else ""
        if orders:
            versions = [_request(e, rx_id, n, ref, drug=drug, chart=chart) for n, e in enumerate(orders, 1)]
            last = orders[-1]
            items.append(Item("MedicationRequest", rx_id, versions, last.occurred_at, _received(chart, last), notices))
        for e in events:
            if e.kind == "dispense":
                resource = _dispense(e, ref, drug, rx_id, chart)
            elif e.kind == "administration":
                resource = _administration(e, ref, drug, rx_id, chart)
            else:
                continue
            received = _received(chart, e)
            items.append(Item(resource["resourceType"], resource["id"], [resource], e.occurred_at, received, notices))
    return items


def _received(chart: Chart, e: MedicationEvent) -> Any:
    return chart.received.get(e.message_id)


def _drug(e: MedicationEvent) -> tuple[dict[str, Any], frozenset[str]]:
    concept = coding(e.drug_code, e.drug_system or "DIN", e.drug_name)
    if e.drug_name and "text" not in concept:
        concept["text"] = e.drug_name
    return concept, frozenset() if e.drug_recognized or not e.drug_code else frozenset({"drug-code"})


def _common(
    e: MedicationEvent, type_: str, id_: str, *, version: int, drug: dict[str, Any], chart: Chart
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": type_,
        "id": id_,
        "meta": meta(version, chart.received.get(e.message_id)),
        "medicationCodeableConcept": drug,
    }
    if "coding" in drug and not e.drug_recognized:
        out["extension"] = [{"url": UNRECOGNIZED, "valueBoolean": True}]
    if e.prescription_number:
        out["identifier"] = [{"value": e.prescription_number}]
    return out


def _request(
    e: MedicationEvent, id_: str, version: int, ref: str, *, drug: dict[str, Any], chart: Chart
) -> dict[str, Any]:
    out = _common(e, "MedicationRequest", id_, version=version, drug=drug, chart=chart)
    out |= {"status": _REQUEST_STATUS.get(e.status, "unknown"), "intent": "order", "subject": {"reference": ref}}
    authored = when(e.occurred_at)
    if authored:
        out["authoredOn"] = authored
    if e.prescriber:
        out["requester"] = {"display": e.prescriber}
    dosage = " ".join(v for v in (e.dose, e.strength, e.form, e.route) if v)
    if dosage:
        out["dosageInstruction"] = [{"text": dosage}]
    if e.refills.isdigit():
        out["dispenseRequest"] = {"numberOfRepeatsAllowed": int(e.refills)}
    return out


def _dispense(e: MedicationEvent, ref: str, drug: dict[str, Any], rx_id: str, chart: Chart) -> dict[str, Any]:
    out = _common(e, "MedicationDispense", f"dis-{e.id}", version=1, drug=drug, chart=chart)
    out |= {"status": _DISPENSE_STATUS.get(e.status, "completed"), "subject": {"reference": ref}}
    handed = when(e.occurred_at)
    if handed:
        out["whenHandedOver"] = handed
    if rx_id:
        out["authorizingPrescription"] = [{"reference": f"MedicationRequest/{rx_id}"}]
    if e.pharmacy:
        out["performer"] = [{"actor": {"display": e.pharmacy}}]
    if e.quantity:
        out["note"] = [{"text": f"quantité / quantity: {e.quantity}"}]
    return out


def _administration(e: MedicationEvent, ref: str, drug: dict[str, Any], rx_id: str, chart: Chart) -> dict[str, Any]:
    out = _common(e, "MedicationAdministration", f"adm-{e.id}", version=1, drug=drug, chart=chart)
    received = chart.received[e.message_id]  # every record's message is stored
    out |= {"status": _ADMIN_STATUS.get(e.status, "completed"), "subject": {"reference": ref}}
    out["effectiveDateTime"] = when(e.occurred_at) or instant(received)  # required: reception stands in
    if rx_id:
        out["request"] = {"reference": f"MedicationRequest/{rx_id}"}
    if e.dose:
        out["dosage"] = {"text": " ".join(v for v in (e.dose, e.route) if v)}
    return out
