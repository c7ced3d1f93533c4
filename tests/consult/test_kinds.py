"""Every kind of resource the channel serves, built from real intake, validates against its R4B model."""

from __future__ import annotations

from pathlib import Path

import pydicom
from consult_world import World
from consulting import administration, dispense, imaging_order, imaging_report, lab, order, report_with_pdf
from fhir_check import resources, valid
from pydicom.uid import generate_uid
from shared_samples import sample

from hub.engine.dicom import import_dicom

PDF = b"%PDF-1.4\n% rapport signe\n" + b"0" * 200


def _study(tmp_path: Path, accession: str, study_uid: str) -> bytes:
    ds = pydicom.dcmread(sample("dicom", "CT_small.dcm"))
    ds.AccessionNumber, ds.PatientID, ds.StudyInstanceUID = accession, "123", study_uid
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "ct.dcm"
    ds.save_as(path)
    return path.read_bytes()


def test_every_served_kind_validates_and_links(world: World, tmp_path: Path) -> None:
    """Lab, the three medication kinds, and imaging: order, report, PDF, DICOM study; each read back by id."""
    for raw, channel in (
        (lab("L1", "20260115", "F1"), "lab"),
        (order("M1"), "pharmacy"),
        (dispense("M2", "20260112", rx="RX300"), "pharmacy"),
        (administration("M3"), "pharmacy"),
        (imaging_order("I1"), "imaging"),
        (imaging_report("I2", "20260111"), "imaging"),
        (report_with_pdf("I3", PDF, accession="ACC-2"), "imaging"),
    ):
        reply = world.send(raw, channel)
        assert reply is not None and reply.code == "AA", (channel, reply)
    result = import_dicom(
        world.engine, _study(tmp_path, "ACC-1", "1.2.3.4.5"), channel="cli", source="cli:test", organization="chum"
    )
    assert result.status == "accepted", result
    status, bundle = world.ask("/Patient/1/$everything", world.token())
    assert status == 200
    kinds = {r["resourceType"] for r in resources(bundle)}
    assert kinds >= {
        "Patient", "Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense",
        "MedicationAdministration", "ServiceRequest", "DocumentReference", "ImagingStudy",
    }  # fmt: skip
    (document,) = resources(bundle, "DocumentReference")
    assert document["content"][0]["attachment"]["contentType"] == "application/pdf"
    (study,) = resources(bundle, "ImagingStudy")
    (request,) = resources(bundle, "ServiceRequest")
    assert study["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]
    (given,) = resources(bundle, "MedicationAdministration")
    (prescription,) = resources(bundle, "MedicationRequest")
    assert given["request"] == {"reference": f"MedicationRequest/{prescription['id']}"}
    for resource in resources(bundle):
        if resource["resourceType"] in ("Patient", "OperationOutcome"):
            continue
        status, one = world.ask(f"/{resource['resourceType']}/{resource['id']}", world.token())
        assert (status, valid(one)["id"]) == (200, resource["id"])
    for kind in ("DiagnosticReport", "MedicationRequest", "ImagingStudy", "MedicationDispense"):
        status, found = world.ask(f"/{kind}", world.token(), ("patient", "1"))
        assert status == 200 and resources(found, kind), kind
