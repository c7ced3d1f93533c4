"""DICOM studies imported with `dicom import`, and linked to HL7 reports in `show patient`."""

from __future__ import annotations

from pathlib import Path

import pytest
from commands import invoke
from domain_hub import DomainHub, report, send, show
from shared_samples import sample, samples

pytestmark = pytest.mark.slow


NO_PATIENT = "no Patient ID (0010,0020) and no HL7 order or report with its accession or Study UID"
DICOM_EXPECTED = {
    "CT_small.dcm": "accepted",
    "MR_small.dcm": "accepted",
    "chrFren.dcm": "accepted",
    "dicomdirtests_77654033_CT2_17106.dcm": "accepted",
    "examples_overlay.dcm": "accepted",
    "liver_1frame.dcm": "accepted",
    "no_meta.dcm": "error: not a DICOM Part 10 file: the 128-byte preamble and 'DICM' prefix are missing",
    "reportsi.dcm": f"error: {NO_PATIENT}",  # SRs without a Patient ID: linked through an HL7 report instead
    "test-SR.dcm": f"error: {NO_PATIENT}",
    "truncated.dcm": "error: truncated DICOM file",
}


def test_dicom_import_of_every_sample(hub: DomainHub, tmp_path: Path) -> None:
    """Every shared DICOM file imports or fails with a clear line; a truncated copy is refused."""
    files = samples("dicom", "*.dcm")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(sample("dicom", "CT_small.dcm").read_bytes()[:20000])
    result = invoke("dicom", "import", "--config", str(hub.config), *map(str, files), str(truncated))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    got = {}
    for line in (result.stdout + result.stderr).splitlines():
        status, _, rest = line.partition(" ")
        path, _, detail = rest.strip().partition(": ")
        got[Path(path).name] = status if status == "accepted" else f"{status}: {detail}"
    assert got == DICOM_EXPECTED
    again = invoke("dicom", "import", "--config", str(hub.config), str(files[0]))
    assert again.exit_code == 0 and again.stdout.startswith("duplicate")
    french = show(hub, "SCSFREN")  # ISO_IR 100 PatientName "Buc^Jérôme"
    assert (french["patient"]["family"], french["patient"]["given"]) == ("Buc", "Jérôme")
    (study,) = french["imaging"]["studies"]
    assert study["modalities"] == ["OT"]


def test_structured_report_gives_text_once_linked_by_study_uid(hub: DomainHub) -> None:
    """A Comprehensive SR without a Patient ID imports once an HL7 report names its Study UID; its text shows."""
    import pydicom

    path = sample("dicom", "test-SR.dcm")
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
    body = f"OBX|1|ST|113014^DICOM Study^DCM||{uid}||||||F\rOBX|2|TX|18782-3^Impression^LN||Masse notée.||||||F\r"
    (ack,) = send(hub.imaging_port, report("IMG-40", "F", body, accession=""))
    assert ack.code == "AA", ack.errors
    result = invoke("dicom", "import", "--config", str(hub.config), "--organization", "chum", str(path))
    assert result.exit_code == 0, result.stderr
    (study,) = show(hub, "IMG42")["imaging"]["studies"]
    assert study["study_uid"] == uid
    assert "Diameter: 3 cm" in study["report_text"]
    assert len(study["linked_reports"]) == 1


def test_study_and_hl7_report_show_as_linked(hub: DomainHub) -> None:
    """A report whose accession matches a DICOM study's: `show patient` lists the study, linked both ways.

    The report's patient holds the study's Patient ID (021234567) as a CHUM MRN, and the CHUM
    issued the accession number: the same patient at the same organization.
    """
    accession = "8000000000330109"  # examples_overlay.dcm's AccessionNumber
    message = report("IMG-30", "F", accession=accession).replace(
        "IMG42^^^CHUM^MR", "IMG42^^^CHUM^MR~021234567^^^CHUM^MR"
    )
    (ack,) = send(hub.imaging_port, message)
    assert ack.code == "AA"
    overlay = str(sample("dicom", "examples_overlay.dcm"))
    result = invoke("dicom", "import", "--config", str(hub.config), "--organization", "chum", overlay)
    assert result.exit_code == 0, result.stderr
    assert "linked to 1 order(s)/report(s)" in result.stdout
    record = show(hub, "IMG42")
    (study,) = record["imaging"]["studies"]
    assert study["accession"] == accession
    assert study["modalities"] == ["MR"]
    assert (study["series_count"], study["instance_count"]) == (1, 1)
    (rep,) = record["imaging"]["reports"]
    assert study["linked_reports"] == [rep["key"]]
    text_view = invoke("show", "patient", "IMG42", "--config", str(hub.config)).stdout
    assert "linked to 1 order(s)/report(s)" in text_view
