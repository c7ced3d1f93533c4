"""Pharmacy and imaging mappings on parsed messages: the fields kept, and bad input refused precisely."""

from __future__ import annotations

import pytest
from shared_samples import sample, samples

from hub.hl7 import Code, ContentError, decode, parse, read_header
from mappings import Mapped, routes_for
from mappings.exclusions import Exclusion, apply_exclusions


def mapped(domain: str, raw: bytes) -> Mapped:
    """The mapping of `raw` by the route of its MSH-9 in `domain`."""
    msg = parse(decode(raw).text)
    header = read_header(msg)
    return routes_for(domain)[(header.message_code, header.trigger_event)].mapper(msg, header)


def test_every_pharmacy_sample_maps_with_its_drug_kept_as_text() -> None:
    """All 8 pharmacy samples map (whatever the rule set later says); drug codes keep their text."""
    codes = {}
    for path in samples("hl7v2/pharmacy", "*.hl7"):
        result = mapped("pharmacy", path.read_bytes())
        (event,) = result.medications
        codes[path.name] = (event.kind, event.drug_code, event.drug_recognized)
    assert codes["hapi_rde_o11_digoxin_v24.hl7"] == ("order", "99089", False)
    assert codes["hapi_ras_o17_v25_zsegs.hl7"][0] == "administration"
    assert codes["ms_rds_o13_v28.hl7"] == ("dispense", "01151327", False)  # leading zero kept
    assert codes["google_cerner_millennium_rde_o01_v23.hl7"][0] == "order"


def test_cerner_cancel_sample_is_a_cancelled_event() -> None:
    """ORC-1 CA in the Cerner Millennium RDE^O01: the event cancels its prescription."""
    raw = sample("hl7v2/pharmacy", "google_cerner_millennium_rde_o01_v23.hl7").read_bytes()
    (event,) = mapped("pharmacy", raw).medications
    assert (event.order_control, event.status, event.route) == ("CA", "cancelled", "oral")


def test_imaging_order_keeps_accession_study_uid_and_modality() -> None:
    """IPC in an OMI^O23 (the sample's en dash made ASCII, since its MSH-18 says 8859/1)."""
    raw = sample("hl7v2/imaging", "dcm4che_omi_o23_ipc.hl7").read_bytes().replace("–".encode(), b"-")
    (order,) = mapped("imaging", raw).imaging_orders
    assert (order.accession, order.study_uid, order.modality) == (
        "AccessionNumber",
        "1.2.392.200036.9125.0.198811291108.7",
        "CT",
    )
    zds = sample("hl7v2/imaging", "dcm4che_file_named_orm_but_msh9_omi_o23_zds.hl7").read_bytes()
    (order,) = mapped("imaging", zds.replace("–".encode(), b"-")).imaging_orders
    assert (order.accession, order.study_uid, order.modality) == (
        "AccessionNumber",
        "1.2.392.200036.9125.0.198811291108.7",
        "CT",
    )


def test_radiology_report_text_findings_and_study_uid() -> None:
    """TX values become the text, CE values coded findings, OBX 113014 the Study UID."""
    raw = sample("hl7v2/imaging", "dcm4che_oru_r01_radreport_sr.hl7").read_bytes()
    (report,) = mapped("imaging", raw).imaging_reports
    assert report.study_uid == "1.2.392.200036.9125.0.198811291108.7"
    assert report.text.startswith("The right kidney is slightly enlarged")
    assert "Series Instance UID" not in report.text and "1.2.392" not in report.text
    assert ("309088003", "SCT", "Malignant neoplasm of left renal pelvis") in report.findings


def test_invalid_base64_document_is_ae_102_at_its_obx() -> None:
    """An ED value that is not base64: AE 102 at OBX^1^5."""
    raw = (
        b"MSH|^~\\&|RIS|QC|DSQ|QC|20260101||ORU^R01^ORU_R01|1|P|2.5.1\r"
        b"PID|1||X1^^^H^MR\rOBR|1||F1|24627-2^TDM^LN\r"
        b"OBX|1|ED|18748-4^Rapport^LN||^Application^PDF^Base64^%%%not-base64%%%||||||F\r"
    )
    with pytest.raises(ContentError) as err:
        mapped("imaging", raw)
    (issue,) = err.value.issues
    assert (issue.code, str(issue.location)) == (Code.DATA_TYPE, "OBX^1^5")


def test_exclusions_remove_matching_records_and_name_the_rule() -> None:
    """By SYSTEM:CODE or by section; a message left empty has every rule that emptied it."""
    raw = sample("hl7v2/lab", "nist_elr251_testcase1_lead.hl7").read_bytes()
    result = mapped("lab", raw)
    (order,) = result.lab_orders
    by_code = Exclusion("x.code", codes=frozenset({f"{order.code_system.upper()}:{order.code}"}))
    other = Exclusion("x.other", codes=frozenset({"LN:0000-0"}), sections=frozenset({"ZZ"}))
    assert apply_exclusions(result, (other,)) is result
    filtered = apply_exclusions(result, (other, by_code))
    assert filtered.lab_orders == () and filtered.filtered_by == ("x.code",)
