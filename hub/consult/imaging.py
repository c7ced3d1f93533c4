"""Imaging as FHIR: orders, reports with their text, documents, studies.

ServiceRequest (orders), DiagnosticReport with its text, DocumentReference (encapsulated PDFs
and other documents), ImagingStudy (the DICOM objects received).
"""

from __future__ import annotations

import base64
from typing import Any

from hub.store.models import DicomInstance, ImagingDocument, ImagingOrder, ImagingReport

from .chart import Chart
from .fhir import DICOM_UID, SYSTEMS, coding, when
from .items import Item, meta

_ORDER_STATUS = {"CA": "revoked", "OC": "revoked", "CR": "revoked", "DC": "revoked", "HD": "on-hold", "OH": "on-hold"}
_ORC5_STATUS = {"CM": "completed", "CA": "revoked", "DC": "revoked", "HD": "on-hold", "IP": "active", "SC": "active"}
_REPORT_STATUS = {"F": "final", "C": "corrected", "P": "preliminary", "X": "cancelled", "I": "registered"}
_ACCESSION = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}
_RAD = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}


def imaging_items(chart: Chart) -> list[Item]:
    """Orders, reports, their documents, and one ImagingStudy per Study Instance UID."""
    ref = f"Patient/{chart.patient.id}"
    items: list[Item] = []
    requests: dict[str, str] = {}  # accession or study UID -> ServiceRequest id
    for versions in chart.imaging_orders.values():
        sr_id = f"sr-{versions[0].id}"
        current = versions[-1]
        for link in (current.accession, current.study_uid):
            if link:
                requests[link] = sr_id
        rendered = [_request(o, sr_id, ref, chart) for o in versions]
        items.append(Item("ServiceRequest", sr_id, rendered, current.ordered_at or None, _received(chart, current)))
    studies = _studies(chart, ref, requests)
    for reports in chart.reports.values():
        rid = f"rad-{reports[0].id}"
        report = reports[-1]
        rendered = [_report(r, rid, ref, chart, requests=requests, studies=studies) for r in reports]
        received = _received(chart, report)
        items.append(Item("DiagnosticReport", rid, rendered, report.observed_at or None, received))
        for doc in chart.documents.get(report.id, []):
            resource = _document(doc, rid, ref, report, chart)
            items.append(Item("DocumentReference", resource["id"], [resource], report.observed_at or None, received))
    items.extend(studies.values())
    return items


def _received(chart: Chart, row: Any) -> Any:
    return chart.received.get(row.message_id)


def _request(o: ImagingOrder, id_: str, ref: str, chart: Chart) -> dict[str, Any]:
    status = _ORDER_STATUS.get(o.order_control) or _ORC5_STATUS.get(o.order_status, "active")
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": id_,
        "meta": meta(o.version, chart.received.get(o.message_id)),
        "status": status,
        "intent": "order",
        "category": [_RAD],
        "code": coding(o.code, o.code_system, o.code_text),
        "subject": {"reference": ref},
    }
    identifiers = [{"type": _ACCESSION, "value": o.accession}] if o.accession else []
    identifiers += [{"value": v} for v in (o.placer_number, o.filler_number) if v]
    if identifiers:
        out["identifier"] = identifiers
    authored = when(o.ordered_at)
    if authored:
        out["authoredOn"] = authored
    if o.ordering_provider:
        out["requester"] = {"display": o.ordering_provider}
    return out


def _report(
    r: ImagingReport, id_: str, ref: str, chart: Chart, *, requests: dict[str, str], studies: dict[str, Item]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": id_,
        "meta": meta(r.version, chart.received.get(r.message_id)),
        "status": _REPORT_STATUS.get(r.status.upper()[:1], "unknown") if r.status else "unknown",
        "category": [_RAD],
        "code": coding(r.code, r.code_system, r.code_text),
        "subject": {"reference": ref},
    }
    if r.accession:
        out["identifier"] = [{"type": _ACCESSION, "value": r.accession}]
    based = requests.get(r.accession) or requests.get(r.study_uid)
    if based:
        out["basedOn"] = [{"reference": f"ServiceRequest/{based}"}]
    effective, issued = when(r.observed_at), when(r.reported_at)
    if effective:
        out["effectiveDateTime"] = effective
    if issued and "T" in issued:
        out["issued"] = issued
    study = studies.get(r.study_uid)
    if study is not None:
        out["imagingStudy"] = [{"reference": f"ImagingStudy/{study.id}"}]
    if r.text:
        data = base64.b64encode(r.text.encode("utf-8")).decode("ascii")
        out["presentedForm"] = [{"contentType": "text/plain; charset=utf-8", "language": "fr-CA", "data": data}]
    return out


def _document(doc: ImagingDocument, report_id: str, ref: str, r: ImagingReport, chart: Chart) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": f"doc-{doc.id}",
        "meta": meta(1, chart.received.get(r.message_id)),
        "status": "current",
        "subject": {"reference": ref},
        "content": [
            {
                "attachment": {
                    "contentType": doc.media_type or "application/octet-stream",
                    "data": base64.b64encode(doc.data).decode("ascii"),
                    "size": doc.size,
                }
            }
        ],
        "context": {"related": [{"reference": f"DiagnosticReport/{report_id}"}]},
    }
    if r.code:
        out["type"] = coding(r.code, r.code_system, r.code_text)
    return out


def _studies(chart: Chart, ref: str, requests: dict[str, str]) -> dict[str, Item]:
    by_uid: dict[str, list[DicomInstance]] = {}
    for inst in chart.instances:
        by_uid.setdefault(inst.study_uid, []).append(inst)
    out: dict[str, Item] = {}
    for uid, objs in by_uid.items():
        first = objs[0]
        study: dict[str, Any] = {
            "resourceType": "ImagingStudy",
            "id": f"study-{first.id}",
            "meta": meta(1, first.imported_at),
            "identifier": [{"system": DICOM_UID, "value": f"urn:oid:{uid}"}],
            "status": "available",
            "subject": {"reference": ref},
            "numberOfSeries": len({o.series_uid for o in objs}),
            "numberOfInstances": len(objs),
        }
        if first.accession:
            study["identifier"].append({"type": _ACCESSION, "value": first.accession})
        modalities = sorted({o.modality for o in objs if o.modality})
        if modalities:
            study["modality"] = [{"system": SYSTEMS["DCM"], "code": m} for m in modalities]
        if first.study_date:
            study["started"] = first.study_date
        if first.study_description:
            study["description"] = first.study_description
        based = requests.get(first.accession) or requests.get(uid)
        if based:
            study["basedOn"] = [{"reference": f"ServiceRequest/{based}"}]
        out[uid] = Item("ImagingStudy", study["id"], [study], first.study_date or None, first.imported_at)
    return out
