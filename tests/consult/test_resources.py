"""What a consultation returns: the records sent over HL7 v2, as valid FHIR R4 (R4B models), with versions."""

from __future__ import annotations

from consult_world import World
from consulting import NAM, NAM_SYSTEM, dispense, imaging_report, lab
from fhir_check import notices, presented_text, resources, valid


def _fill(world: World) -> str:
    """A January and a March result, a dispense, an imaging report; the patient's id."""
    for raw, channel in (
        (lab("L1", "20260115", "F1"), "lab"),
        (lab("L2", "20260301", "F2", code="2823-3^Potassium^LN", value="4.1"), "lab"),
        (dispense("R1", "20260116"), "pharmacy"),
        (imaging_report("I1", "20260117"), "imaging"),
    ):
        reply = world.send(raw, channel)
        assert reply is not None and reply.code == "AA", reply
    status, found = world.ask("/Patient", world.token(), ("identifier", f"{NAM_SYSTEM}|{NAM}"))
    assert status == 200, found
    (patient,) = resources(found, "Patient")
    return str(patient["id"])


def test_everything_brings_back_codes_values_and_french_text(world: World) -> None:
    """$everything: the LOINC codes, UCUM values, ranges, flags, the DIN, the report's text, French intact."""
    pid = _fill(world)
    status, bundle = world.ask(f"/Patient/{pid}/$everything", world.token())
    assert status == 200
    assert bundle["type"] == "searchset"
    (patient,) = resources(bundle, "Patient")
    assert patient["name"] == [{"family": "Lavoie", "given": ["Hélène"]}]
    assert {"system": NAM_SYSTEM, "value": NAM} in patient["identifier"]
    glucose = next(o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "2345-7")
    assert glucose["code"]["coding"][0]["system"] == "http://loinc.org"
    assert glucose["valueQuantity"] == {
        "value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L",
    }  # fmt: skip
    assert glucose["referenceRange"][0]["low"]["value"] == 3.9
    assert glucose["referenceRange"][0]["high"]["value"] == 6.1
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["status"] == "final"
    assert glucose["note"] == [{"text": "Résultat vérifié ; répéter à jeun"}]
    (drug,) = resources(bundle, "MedicationDispense")
    coding = drug["medicationCodeableConcept"]["coding"][0]
    assert (coding["system"], coding["code"]) == ("http://hl7.org/fhir/NamingSystem/ca-hc-din", "00056057")
    assert drug["medicationCodeableConcept"]["text"] == "Amoxicilline 500 mg"
    reports = resources(bundle, "DiagnosticReport")
    radiology = next(r for r in reports if r["id"].startswith("rad-"))
    assert presented_text(radiology) == "Poumons clairs.\nAucune lésion décelée."
    labs = [r for r in reports if r["id"].startswith("lab-")]
    assert len(labs) == 2
    assert {r["reference"] for r in labs[0]["result"]} <= {
        f"Observation/{o['id']}" for o in resources(bundle, "Observation")
    }
    assert notices(bundle) == []


def test_searches_by_patient_code_and_date(world: World) -> None:
    """Observation by code and by date range; DiagnosticReport and MedicationDispense by patient."""
    pid = _fill(world)
    tok = world.token
    _, by_code = world.ask("/Observation", tok(), ("patient", pid), ("code", "http://loinc.org|2823-3"))
    assert [o["valueQuantity"]["value"] for o in resources(by_code, "Observation")] == [4.1]
    _, by_date = world.ask("/Observation", tok(), ("patient", pid), ("date", "ge2026-01-01"), ("date", "lt2026-02-01"))
    assert [o["code"]["coding"][0]["code"] for o in resources(by_date, "Observation")] == ["2345-7"]
    _, reports = world.ask("/DiagnosticReport", tok(), ("patient", f"Patient/{pid}"))
    assert len(resources(reports, "DiagnosticReport")) == 3
    _, drugs = world.ask("/MedicationDispense", tok(), ("patient", pid))
    assert len(resources(drugs, "MedicationDispense")) == 1
    _, studies = world.ask("/ImagingStudy", tok(), ("patient", pid))
    assert valid(studies)["total"] == 0
    status, bad = world.ask("/Observation", tok(), ("patient", pid), ("date", "janvier"))
    assert status == 400
    assert valid(bad)["resourceType"] == "OperationOutcome"


def test_a_corrected_result_is_version_2_and_history_lists_version_1(world: World) -> None:
    """A C result for the same order: the Observation's current version is 2; _history gives both."""
    pid = _fill(world)
    reply = world.send(lab("L3", "20260115", "F1", value="5.9", status="C"), "lab")
    assert reply is not None and reply.code == "AA"
    _, found = world.ask("/Observation", world.token(), ("patient", pid), ("code", "2345-7"))
    (obs,) = resources(found, "Observation")
    assert (obs["meta"]["versionId"], obs["status"], obs["valueQuantity"]["value"]) == ("2", "corrected", 5.9)
    status, history = world.ask(f"/Observation/{obs['id']}/_history", world.token())
    assert status == 200 and history["type"] == "history"
    assert [(r["meta"]["versionId"], r["valueQuantity"]["value"]) for r in resources(history)] == [
        ("2", 5.9),
        ("1", 5.4),
    ]
    status, one = world.ask(f"/Observation/{obs['id']}", world.token())
    assert status == 200 and valid(one)["meta"]["versionId"] == "2"


def test_an_unrecognized_drug_code_is_marked_and_said(world: World) -> None:
    """An NDC instead of a DIN: the dispense carries the marker extension and the Bundle says why."""
    pid = _fill(world)
    reply = world.send(dispense("R2", "20260120", din="0006-0740-31", system="NDC", rx="RX200"), "pharmacy")
    assert reply is not None and reply.code == "AA"
    _, bundle = world.ask(f"/Patient/{pid}/$everything", world.token())
    marked = [d for d in resources(bundle, "MedicationDispense") if "extension" in d]
    assert [d["medicationCodeableConcept"]["coding"][0]["code"] for d in marked] == ["0006-0740-31"]
    assert notices(bundle) == ["code de médicament non reconnu / drug code not recognized"]


def test_metadata_needs_no_token_and_writes_are_405(world: World) -> None:
    """The CapabilityStatement is open; POST, PUT and DELETE get 405 with an OperationOutcome."""
    status, capability = world.ask("/metadata", None)
    assert status == 200 and valid(capability)["fhirVersion"] == "4.0.1"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, body = world.ask("/Patient", world.token(), method=method)
        assert status == 405 and valid(body)["issue"][0]["code"] == "not-supported"


def test_no_matching_patient_is_404_and_journaled(world: World) -> None:
    """An unknown NAM: 404 « recherche non concluante », journaled as consult.notfound."""
    _fill(world)
    status, body = world.ask("/Patient", world.token(), ("identifier", f"{NAM_SYSTEM}|ZZZZ99999999"))
    assert status == 404
    assert valid(body)["issue"][0]["details"]["text"] == "recherche non concluante / no matching patient"
    from consult_checks import last_entry

    assert last_entry(world.engine)[:2] == ("consult.notfound", "no-match")


def test_a_local_identifier_is_found_under_its_authority_uri(world: World) -> None:
    """The MRN's system is the authority's URI (percent-encoded); another authority finds nobody."""
    pid = _fill(world)
    status, found = world.ask("/Patient", world.token(), ("identifier", "urn:passerelle:authority:CHUM|123"))
    assert status == 200 and [p["id"] for p in resources(found, "Patient")] == [pid]
    assert {"system": "urn:passerelle:authority:CHUM", "value": "123"} in resources(found, "Patient")[0]["identifier"]
    status, _ = world.ask("/Patient", world.token(), ("identifier", "urn:passerelle:authority:HMR|123"))
    assert status == 404
