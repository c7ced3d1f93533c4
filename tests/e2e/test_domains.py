"""Pharmacy and imaging through the real listener, and DICOM studies linked in `show patient`.

Samples, medication lists, report history, documents, exclusions.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.cli.client import MLLPClient, parse_ack
from hub.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"

# What each sample gets on channels configured as in config.yaml; the README lists the reasons.
EXPECTED = {
    "pharmacy": {
        "google_cerner_millennium_rde_o01_v23.hl7": ["AR"],  # MSH-11 empty: not P (AR 202)
        "google_rde_o01_rxd_v25.hl7": ["AR"],  # MSH-3/4 empty: no partner to recognize (AR 207)
        "hapi_ihe_connectathon_eu2011_rde_o11_v26.hl7": ["AE"],  # MSH-18 "UTF-8", IN1-1 "s", RXE-5 empty
        "hapi_ras_o17_v25_zsegs.hl7": ["AR"],  # MSH-3/4 empty: link refused
        "hapi_rde_o11_digoxin_v24.hl7": ["CE"],  # RXR before RXE (AE 100), MSH-17 "0" (AE 103)
        "ms_rde_o11_v28.hl7": ["AE"],  # PRT-2 "AD" not in hl7apy's 0206, OBX-4 empty
        "ms_rde_o25_v28.hl7": ["AA"],  # stored; W: NDC code not a DIN
        "ms_rds_o13_v28.hl7": ["AE"],  # RXR out of place, PRT-2, OBX-4
    },
    "imaging": {
        "dcm4che_file_named_orm_but_msh9_omi_o23_zds.hl7": ["AE"],  # UTF-8 bytes under MSH-18 8859/1
        "dcm4che_omi_o23_ipc.hl7": ["AE"],  # UTF-8 bytes under MSH-18 8859/1
        "dcm4che_oru_r01_pdf_base64_ed.hl7": ["AA"],  # stored with its PDF; W: bare CR in base64 removed
        "dcm4che_oru_r01_radreport_sr.hl7": ["AE"],  # OBX-8 shifted one field right: OBX-11 empty, OBX-12 "F"
        "ms_orm_o01_ct_head_v26_BOM.hl7": ["AE"],  # CTD out of place, PV1-6.2 too long, ORC-15 invalid
    },
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m hub ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=os.environ
    )


def channel(name: str, port: int, **extra: object) -> dict[str, object]:
    """A channel as config.yaml declares it."""
    return {
        "name": name,
        "protocol": "mllp",
        "listen": f"tcp:{port}:interface=127.0.0.1",
        "domain": name,
        "ruleset": f"tgv-{name}-2026.1",
        **extra,
    }


@pytest.fixture
def hub(server_factory: Any, port_maker: Any, db_url: str) -> Any:
    """A hub with a pharmacy channel (its main port) and an imaging channel (`hub.imaging_port`)."""
    imaging_port = port_maker()
    partners = [
        {
            "id": "sender",
            "name": "Test senders",
            "category": "government",
            "domains": ["pharmacy", "imaging"],
            "product": {"name": "Tests", "version": "1"},
            "identities": [{"sending_application": "PHARM", "sending_facility": "QC"}],
        },
        *yaml_partners(),
    ]
    server = server_factory(
        db_url=db_url,
        **{k: v for k, v in channel("pharmacy", 0).items() if k not in ("listen",)},
        partners=partners,
        extra_channels=[
            channel(
                "imaging",
                imaging_port,
                max_document_bytes=4096,
                exclusions=[{"id": "imaging.no-research", "codes": ["LN:99999-9"], "sections": ["RES"]}],
            )
        ],
    )
    server.imaging_port = imaging_port
    return server


def yaml_partners() -> list[dict[str, object]]:
    """The partners config.yaml declares (the sample senders)."""
    import yaml

    return list(yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["partners"])


def send(port: int, *messages: str | bytes) -> list[Any]:
    """Send each message on one connection; the parsed ACKs."""
    client = MLLPClient("127.0.0.1", port)
    try:
        return [parse_ack(client.send(m.encode() if isinstance(m, str) else m)) for m in messages]
    finally:
        client.close()


def show(server: Any, identifier: str) -> dict[str, Any]:
    """`show patient --json`."""
    shown = run("show", "patient", identifier, "--json", "--config", str(server.config))
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


# -- samples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("domain", ["pharmacy", "imaging"])
def test_every_sample_gets_its_ack(hub: Any, domain: str) -> None:
    """Each pharmacy and imaging sample gets the ACK EXPECTED lists, through the real listener."""
    port = hub.port if domain == "pharmacy" else hub.imaging_port
    files = sorted((SAMPLES / "hl7v2" / domain).glob("*.hl7"))
    result = run("send", "--port", str(port), *map(str, files))
    got: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name, code = line.split("\t")[0], line.split("\t")[2]
        got.setdefault(Path(name.split("#")[0]).name, []).append(code)
    assert got == EXPECTED[domain]


def test_stored_samples_show_in_show_patient(hub: Any) -> None:
    """The stored pharmacy sample is a medication with its NDC flagged; the PDF report keeps its document."""
    run("send", "--port", str(hub.port), str(SAMPLES / "hl7v2/pharmacy/ms_rde_o25_v28.hl7"))
    run("send", "--port", str(hub.imaging_port), str(SAMPLES / "hl7v2/imaging/dcm4che_oru_r01_pdf_base64_ed.hl7"))
    (med,) = show(hub, "PATID1234")["pharmacy"]["medications"]
    assert med["drug"] == {
        "code": "0143963401",
        "system": "NDC",
        "name": "200 ML BAG : NICARDIPINE IN NACL (ISO-OS) 40 MG/200 ML IV PGBK",
        "recognized": False,
    }
    assert med["status"] == "active"
    (report,) = show(hub, "PID_1")["imaging"]["reports"]
    current = report["current"]
    assert (current["accession"], current["status"]) == ("AccessionNumber", "F")
    assert current["study_uid"] == "1.2.392.200036.9125.0.198811291108.7"
    (doc,) = current["documents"]
    assert doc["media_type"] == "application/pdf"
    with make_engine(hub.db_url).connect() as conn:
        data = conn.execute(text("SELECT data FROM imaging_documents")).scalar_one()
    assert data.startswith(b"%PDF") and len(data) == doc["size"]
    import hashlib

    assert hashlib.sha256(data).hexdigest() == doc["sha256"]


# -- pharmacy -----------------------------------------------------------------------------------
def rx(cid: str, kind: str, control: str = "NW", din: str = "00056057", system: str = "DIN") -> str:
    """A v2.5 RDE^O11 (kind "order") or RDS^O13 ("dispense") for prescription RX100, from PHARM/QC."""
    msh_type = {"order": "RDE^O11^RDE_O11", "dispense": "RDS^O13^RDS_O13"}[kind]
    head = (
        f"MSH|^~\\&|PHARM|QC|DSQ|QC|20260102090000||{msh_type}|{cid}|P|2.5\r"
        "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"
        f"ORC|{control}|RX100^PHARM|||||||20260102085500|||1234^Tremblay^Luc\r"
    )
    drug = f"{din}^Amoxicilline 500 mg^{system}"
    rxe = ["RXE", "^BID", drug, "1", "", "CAP^capsule", "CAP^capsule", "", "", "", "20", "CAP^capsule", "2"]
    rxe += [""] * 12 + ["500", "mg"]  # RXE-25/26: give strength
    encoded = "|".join(rxe) + "\rTQ1|1||BID\rRXR|PO^orale\r"
    if kind == "order":
        return head + encoded
    rxd = ["RXD", "1", drug, "20260102100000", "20", "CAP^capsule", "CAP^capsule", "RX100", "1"]
    rxd += [""] * 4 + ["Pharmacie Jean-Coutu"]  # RXD-13: dispense-to location
    return head + encoded + "|".join(rxd) + "\rRXR|PO^orale\r"


def test_order_dispense_cancel_leaves_a_right_medication_list(hub: Any) -> None:
    """Order, dispense, cancel: one prescription, cancelled and inactive, with its three events.

    The DIN keeps its leading zeros.
    """
    acks = send(
        hub.port,
        rx("RX-1", "order"),
        rx("RX-2", "dispense"),
        rx("RX-3", "order", control="CA"),
    )
    assert [a.code for a in acks] == ["AA", "AA", "AA"], [a.errors for a in acks]
    (med,) = show(hub, "LAVH54623112")["pharmacy"]["medications"]
    assert (med["status"], med["active"]) == ("cancelled", False)
    assert med["drug"] == {"code": "00056057", "system": "DIN", "name": "Amoxicilline 500 mg", "recognized": True}
    events = med["events"]
    assert [(e["kind"], e["order_control"], e["status"]) for e in events] == [
        ("order", "NW", "active"),
        ("dispense", "NW", "dispensed"),
        ("order", "CA", "cancelled"),
    ]
    assert events[0]["strength"] == "500 mg"
    assert events[0]["route"] == "orale"
    assert events[0]["prescriber"] == "Tremblay, Luc (1234)"
    assert events[1]["pharmacy"] == "Pharmacie Jean-Coutu"
    assert events[1]["quantity"] == "20 CAP"
    assert events[1]["occurred_at"] == "2026-01-02T10:00:00"


def test_unrecognized_drug_code_is_stored_flagged_and_warned(hub: Any) -> None:
    """A code outside the DIN system: AA with a W ERR at RXE-2, stored with recognized false."""
    (ack,) = send(hub.port, rx("RX-9", "order", din="0006-0740-31", system="NDC"))
    assert ack.code == "AA"
    assert any("RXE^1^2" in e and "|W|" in e for e in ack.errors), ack.errors
    (med,) = show(hub, "LAVH54623112")["pharmacy"]["medications"]
    assert med["drug"]["recognized"] is False
    assert med["drug"]["code"] == "0006-0740-31"


def test_malformed_din_is_refused(hub: Any) -> None:
    """din.format: a code declared DIN that is not 8 digits gets AE 102 at RXE-2.1."""
    (ack,) = send(hub.port, rx("RX-8", "order", din="56057"))
    assert ack.code == "AE"
    assert any("RXE^1^2" in e and "102" in e for e in ack.errors), ack.errors


# -- imaging --------------------------------------------------------------------------------------
def report(cid: str, status: str, body: str = "", accession: str = "ACC-77", code: str = "24627-2^TDM^LN") -> str:
    """A v2.5.1 radiology ORU^R01 from PHARM/QC (the test partner) with OBR-18 accession and OBR-25."""
    obr = ["OBR", "1", "", "F77^RIS", code, "", "", "20260103080000"] + [""] * 10 + [accession] + [""] * 6 + [status]
    return (
        f"MSH|^~\\&|PHARM|QC|DSQ|QC|20260103120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        "PID|1||IMG42^^^CHUM^MR||Gagnon^Josée||19600101|F\r"
        + "|".join(obr)
        + "\r"
        + (body or f"OBX|1|FT|18782-3^Impression^LN||Poumons clairs.\\.br\\Aucune lésion ({status}).||||||{status}\r")
    )


def test_report_versions_preliminary_final_corrected(hub: Any) -> None:
    """P -> F -> C keeps every version; the corrected one is current, and there is one report, not two."""
    acks = send(hub.imaging_port, report("IMG-1", "P"), report("IMG-2", "F"), report("IMG-3", "C"))
    assert [a.code for a in acks] == ["AA", "AA", "AA"], [a.errors for a in acks]
    reports = show(hub, "IMG42")["imaging"]["reports"]
    (only,) = reports
    assert only["current"]["status"] == "C"
    assert [h["status"] for h in only["history"]] == ["F", "P"]  # newest first, as for lab results
    assert only["current"]["text"] == "Poumons clairs.\nAucune lésion (C)."
    (back,) = send(hub.imaging_port, report("IMG-4", "P"))
    assert back.code == "AE"
    assert any("OBR^1^25" in e for e in back.errors)


def test_document_over_the_cap_is_refused_at_its_obx(hub: Any) -> None:
    """An ED PDF over the channel's 4 KB cap: AE 104 at OBX^1^5; under it, stored."""
    big = base64.b64encode(b"%PDF-1.4\n" + b"x" * 5000).decode()
    small = base64.b64encode(b"%PDF-1.4\n" + b"x" * 100).decode()
    ed = "OBX|1|ED|18748-4^Rapport^LN||^Application^PDF^Base64^{}||||||F\r"
    (refused,) = send(hub.imaging_port, report("IMG-10", "F", ed.format(big), accession="ACC-10"))
    assert refused.code == "AE"
    assert any("OBX^1^5" in e and "104" in e for e in refused.errors), refused.errors
    (stored,) = send(hub.imaging_port, report("IMG-11", "F", ed.format(small), accession="ACC-11"))
    assert stored.code == "AA"


def test_excluded_exam_gets_aa_and_is_journaled_as_filtered(hub: Any) -> None:
    """An exam under an exclusion: AA, nothing stored, the journal names the rule."""
    (ack,) = send(hub.imaging_port, report("IMG-20", "F", accession="ACC-20", code="99999-9^Recherche^LN"))
    assert ack.code == "AA"
    assert show_or_none(hub, "IMG42") == {}  # nothing stored: not even the patient
    listed = json.loads(run("messages", "list", "--json", "--config", str(hub.config)).stdout)
    (entry,) = [r for r in listed if r["control_id"] == "IMG-20"]
    assert entry["status"] == "filtered"
    assert entry["ack_code"] == "AA"
    assert "imaging.no-research" in entry["reason"]


def show_or_none(server: Any, identifier: str) -> dict[str, Any]:
    """`show patient --json`, or {} when the patient is unknown."""
    shown = run("show", "patient", identifier, "--json", "--config", str(server.config))
    return dict(json.loads(shown.stdout)) if shown.returncode == 0 else {}


# -- DICOM ----------------------------------------------------------------------------------------
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


def test_dicom_import_of_every_sample(hub: Any, tmp_path: Path) -> None:
    """Every shared DICOM file imports or fails with a clear line; a truncated copy is refused."""
    files = sorted((SAMPLES / "dicom").glob("*.dcm"))
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes((SAMPLES / "dicom" / "CT_small.dcm").read_bytes()[:20000])
    result = run("dicom", "import", "--config", str(hub.config), *map(str, files), str(truncated))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    got = {}
    for line in (result.stdout + result.stderr).splitlines():
        status, _, rest = line.partition(" ")
        path, _, detail = rest.strip().partition(": ")
        got[Path(path).name] = status if status == "accepted" else f"{status}: {detail}"
    assert got == DICOM_EXPECTED
    again = run("dicom", "import", "--config", str(hub.config), str(files[0]))
    assert again.returncode == 0 and again.stdout.startswith("duplicate")
    french = show(hub, "SCSFREN")  # ISO_IR 100 PatientName "Buc^Jérôme"
    assert (french["patient"]["family"], french["patient"]["given"]) == ("Buc", "Jérôme")
    (study,) = french["imaging"]["studies"]
    assert study["modalities"] == ["OT"]


def test_structured_report_gives_text_once_linked_by_study_uid(hub: Any) -> None:
    """A Comprehensive SR without a Patient ID imports once an HL7 report names its Study UID; its text shows."""
    import pydicom

    path = SAMPLES / "dicom" / "test-SR.dcm"
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
    body = f"OBX|1|ST|113014^DICOM Study^DCM||{uid}||||||F\rOBX|2|TX|18782-3^Impression^LN||Masse notée.||||||F\r"
    (ack,) = send(hub.imaging_port, report("IMG-40", "F", body, accession=""))
    assert ack.code == "AA", ack.errors
    result = run("dicom", "import", "--config", str(hub.config), str(path))
    assert result.returncode == 0, result.stderr
    (study,) = show(hub, "IMG42")["imaging"]["studies"]
    assert study["study_uid"] == uid
    assert "Diameter: 3 cm" in study["report_text"]
    assert len(study["linked_reports"]) == 1


def test_study_and_hl7_report_show_as_linked(hub: Any) -> None:
    """A report whose accession matches a DICOM study's: `show patient` lists the study, linked both ways."""
    accession = "8000000000330109"  # examples_overlay.dcm's AccessionNumber
    (ack,) = send(hub.imaging_port, report("IMG-30", "F", accession=accession))
    assert ack.code == "AA"
    result = run("dicom", "import", "--config", str(hub.config), str(SAMPLES / "dicom" / "examples_overlay.dcm"))
    assert result.returncode == 0, result.stderr
    assert "linked to 1 order(s)/report(s)" in result.stdout
    record = show(hub, "IMG42")
    (study,) = record["imaging"]["studies"]
    assert study["accession"] == accession
    assert study["modalities"] == ["MR"]
    assert (study["series_count"], study["instance_count"]) == (1, 1)
    (rep,) = record["imaging"]["reports"]
    assert study["linked_reports"] == [rep["key"]]
    text_view = run("show", "patient", "IMG42", "--config", str(hub.config)).stdout
    assert "linked to 1 order(s)/report(s)" in text_view
