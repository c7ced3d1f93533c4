"""Step 3 and 5 of a consultation: find the patient, apply the refusals, build the FHIR answer.

Runs inside the consultation's transaction (hub/consult/access.py), so the register of refusals
is read with the records. What the Bundle says about missing information is a fixed bilingual
text per reason, never a count or a hint of what was withheld.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.interfaces import ConsultReply
from hub.store.models import (
    DicomInstance,
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
)

from . import audit, chart, fhir, search
from .capability import capability
from .imaging import imaging_items
from .items import Item
from .lab import lab_items
from .medications import medication_items
from .release import in_force
from .routes import Route
from .tokens import Claims, Denied

if TYPE_CHECKING:
    from .access import Entry, FhirChannel

REFUSAL = (
    "information",
    "suppressed",
    "renseignements retenus : refus de l'usager / information withheld: patient refusal",
)
EXCLUDED = (
    "information", "informational",
    "certaines catégories ne sont pas communiquées / some categories are not communicated",
)  # fmt: skip
DRUG_CODE = (
    "information", "informational",
    "code de médicament non reconnu / drug code not recognized",
)  # fmt: skip
UNRESOLVED = (
    "information", "incomplete",
    "des renseignements attendent la confirmation de l'identité de l'usager / "
    "some information awaits confirmation of the patient's identity",
)  # fmt: skip
NO_MATCH = "recherche non concluante / no matching patient"

# A resource id's prefix: the table whose row (its first version's) it names.
_TABLES: dict[str, tuple[str, Any]] = {
    "obs": ("Observation", LabObservation),
    "lab": ("DiagnosticReport", LabOrder),
    "rad": ("DiagnosticReport", ImagingReport),
    "rx": ("MedicationRequest", MedicationEvent),
    "dis": ("MedicationDispense", MedicationEvent),
    "adm": ("MedicationAdministration", MedicationEvent),
    "sr": ("ServiceRequest", ImagingOrder),
    "doc": ("DocumentReference", ImagingDocument),
    "study": ("ImagingStudy", DicomInstance),
}


def metadata(channel: FhirChannel) -> ConsultReply:
    """The CapabilityStatement (no authentication)."""
    return ConsultReply(200, fhir.dumps(capability(channel.base, emergency=channel.emergency)))


def error(status: int, code: str, text: str) -> ConsultReply:
    """An OperationOutcome error answer."""
    issue_code = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported"}
    body = fhir.outcome([("error", issue_code.get(status, "processing"), text)])
    headers = (("WWW-Authenticate", 'Bearer realm="passerelle"'),) if status == 401 else ()
    if status == 405:
        headers = (("Allow", "GET, HEAD"),)
    return ConsultReply(status, fhir.dumps(body), headers=headers)


def read(s: Session, route: Route, channel: FhirChannel, entry: Entry, claims: Claims) -> ConsultReply:
    """The answer to an authorized request; fills in the journal entry's patient and what was released."""
    entry.status = "consult.emergency" if entry.status == "consult.emergency" else "consult"
    entry.detail |= {"interaction": route.kind, "type": route.type}
    patients = _patients(s, route)
    if not patients:
        entry.status, entry.decision = "consult.notfound", "no-match"
        return error(404, "no-match", NO_MATCH)
    entry.patient_id = patients[0]
    if len(patients) > 1:
        entry.detail["patients"] = patients
    charts = [chart.load(s, pid) for pid in patients]
    for c in charts:
        if entry.own_nam and entry.own_nam in c.nams:
            entry.patient_id = c.patient.id
            raise Denied(403, "own-record", "consultation de son propre dossier refusée / own record: refused")
    if route.type == "AuditEvent":
        events = audit.audit_events(s, charts[0].ids, channel.base)
        entry.detail["released"] = len(events)
        return ConsultReply(200, fhir.dumps(fhir.bundle("searchset", events, channel.base, match=len(events))))
    if route.type == "Patient" and route.kind in ("search", "read"):
        resources = [fhir.patient(c.patient, c.identifiers) for c in charts]
        entry.detail["released"] = len(resources)
        if route.kind == "read":
            return ConsultReply(200, fhir.dumps(resources[0]))
        return ConsultReply(200, fhir.dumps(fhir.bundle("searchset", resources, channel.base, match=len(resources))))
    return _clinical(s, route, channel, entry, charts[0])


def _patients(s: Session, route: Route) -> list[int]:
    """The current patients the request is about (none: no match)."""
    if route.type == "Patient" and route.kind == "search":
        system, sep, value = route.param("identifier")[0].partition("|")
        if not sep or not value:
            raise Denied(400, "bad-parameter", "identifier=system|value attendu / identifier must be system|value")
        if system == fhir.NAM_SYSTEM:
            return chart.find(s, "RAMQ", value.strip().upper())
        if system.startswith(fhir.MRN_PREFIX):
            return chart.find(s, unquote(system[len(fhir.MRN_PREFIX) :]), value)
        if system.startswith("urn:oid:"):
            return chart.find_by_oid(s, system[len("urn:oid:") :], value)
        return []
    if route.type == "Patient" or route.kind == "search":
        raw = route.id if route.type == "Patient" else route.param("patient")[0].removeprefix("Patient/")
        if not raw.isdigit():
            return []
        found = chart.current(s, int(raw))
        return [] if found is None else [found]
    prefix, _, number = route.id.partition("-")
    known = _TABLES.get(prefix)
    if known is None or known[0] != route.type or not number.isdigit():
        return []
    model = known[1]
    if model is ImagingDocument:
        query = select(ImagingReport.patient_id).join(ImagingDocument, ImagingDocument.report_id == ImagingReport.id)
        owner = s.execute(query.where(ImagingDocument.id == int(number))).scalar()
    else:
        owner = s.execute(select(model.patient_id).where(model.id == int(number))).scalar()
    found = chart.current(s, owner) if owner is not None else None
    return [] if found is None else [found]


def _clinical(s: Session, route: Route, channel: FhirChannel, entry: Entry, c: chart.Chart) -> ConsultReply:
    release = in_force(s, c.ids)
    items = [*lab_items(c), *medication_items(c), *imaging_items(c)]
    released = [i for i in items if not release.withholds(i.clinical, i.received)]
    withheld = len(released) < len(items)
    entry.detail["withheld"] = withheld
    if release.restricted:
        entry.detail["refusals"] = list(release.refusals)
    if withheld:
        entry.status = "consult.emergency" if entry.status == "consult.emergency" else "consult.withheld"
    _drop_withheld_references(released)
    if route.kind in ("read", "history"):
        return _one(route, channel, entry, released)
    if route.kind == "everything":
        chosen = released
    else:
        chosen = search.matching(route, [i for i in released if i.type == route.type])
    resources = [i.current for i in chosen]
    if route.kind == "everything":
        resources.insert(0, fhir.patient(c.patient, c.identifiers))
    entry.detail["released"] = len(resources)
    notices = _notices(release.restricted, channel, chosen, c, route)
    match = len(resources)
    if notices:
        resources.append(fhir.outcome(notices))
    return ConsultReply(200, fhir.dumps(fhir.bundle("searchset", resources, channel.base, match=match)))


def _one(route: Route, channel: FhirChannel, entry: Entry, released: list[Item]) -> ConsultReply:
    item = next((i for i in released if i.type == route.type and i.id == route.id), None)
    if item is None:  # absent or withheld: the answer is the same
        entry.detail["released"] = 0
        return error(404, "not-found", "ressource introuvable / resource not found")
    if route.kind == "read":
        entry.detail["released"] = 1
        return ConsultReply(200, fhir.dumps(item.current))
    versions = list(reversed(item.versions))  # newest first, as a history Bundle lists them
    entry.detail["released"] = len(versions)
    return ConsultReply(200, fhir.dumps(fhir.bundle("history", versions, channel.base, match=len(versions))))


def _drop_withheld_references(released: list[Item]) -> None:
    """A released report names only released results."""
    shown = {f"Observation/{i.id}" for i in released if i.type == "Observation"}
    for item in released:
        if item.type == "DiagnosticReport":
            for version in item.versions:
                if "result" in version:
                    kept = [r for r in version["result"] if r["reference"] in shown]
                    if kept:
                        version["result"] = kept
                    else:
                        del version["result"]


def _notices(refused: bool, channel: FhirChannel, chosen: list[Item], c: chart.Chart, route: Route) -> list[Any]:
    out = []
    if refused:
        out.append(REFUSAL)
    domains = {"Observation": "lab", "DiagnosticReport": "lab", "ImagingStudy": "imaging"}
    asked = {"lab", "imaging", "pharmacy"} if route.kind == "everything" else {domains.get(route.type, "pharmacy")}
    if route.type == "DiagnosticReport":
        asked.add("imaging")
    if channel.excluded & asked:
        out.append(EXCLUDED)
    if any("drug-code" in i.notices for i in chosen):
        out.append(DRUG_CODE)
    if c.unresolved:
        out.append(UNRESOLVED)
    return out
