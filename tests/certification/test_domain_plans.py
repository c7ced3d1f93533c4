"""The pharmacy and imaging test plans against a vendor's recorded traffic.

Good traffic passes every scenario; a dispense on another prescription fails RX-02.
"""

from __future__ import annotations

import base64
from pathlib import Path

from certification.campaign import load_plan, run_campaign
from hub.engine.certify import judge_files

PATIENT = "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"


def rx(cid: str, kind: str, *, control: str = "NW", order: str = "RX1", din: str = "00056057", msh18: str = "") -> str:
    """A v2.5 RDE^O11, RDS^O13 or RAS^O17 in certification (MSH-11 T), for prescription `order`."""
    msh9 = {"order": "RDE^O11^RDE_O11", "dispense": "RDS^O13^RDS_O13", "admin": "RAS^O17^RAS_O17"}[kind]
    charset = f"||||||{msh18}" if msh18 else ""
    head = f"MSH|^~\\&|VENDRX|PHARMA|DSQ|QC|20260102090000||{msh9}|{cid}|T|2.5{charset}\r{PATIENT}"
    orc = f"ORC|{control}|{order}^VENDRX|||||||20260102085500|||1234^Tremblay^Luc\r"
    drug = f"{din}^Amoxicilline^DIN"
    encoded = f"RXE|^BID|{drug}|1||CAP|CAP||||20|CAP|2\rTQ1|1||BID\rRXR|PO\r"
    if kind == "order":
        return head + orc + encoded
    if kind == "dispense":
        return head + orc + encoded + f"RXD|1|{drug}|20260102100000|20|CAP||{order}\rRXR|PO\r"
    return head + orc + f"RXA|0|1|20260102100000|20260102100000|{drug}|1|CAP\rRXR|PO\r"


def img(cid: str, status: str, body: str = "", accession: str = "A1", msh18: str = "") -> str:
    """A v2.5.1 radiology report (MSH-11 T) with OBR-18 accession and OBR-25 status."""
    charset = f"||||||{msh18}" if msh18 else ""
    obr = ["OBR", "1", "", "F1^RIS", "24627-2^TDM^LN", "", "", "20260103080000"] + [""] * 10 + [accession]
    obr += [""] * 6 + [status]
    text = body or f"OBX|1|TX|18782-3^Impression^LN||Poumons clairs.||||||{status}\r"
    return (
        f"MSH|^~\\&|VENDRIS|RADIO|DSQ|QC|20260103120000||ORU^R01^ORU_R01|{cid}|T|2.5.1{charset}\r"
        + PATIENT
        + "|".join(obr)
        + "\r"
        + text
    )


def omi(cid: str) -> str:
    """A v2.5.1 OMI^O23 (MSH-11 T) with an IPC carrying accession, Study UID and modality."""
    return (
        f"MSH|^~\\&|VENDRIS|RADIO|DSQ|QC|20260103120000||OMI^O23^OMI_O23|{cid}|T|2.5.1\r"
        + PATIENT
        + "ORC|NW|P1^RIS|F1^RIS||SC\rTQ1|||||||20260104080000\r"
        + "OBR|1|P1^RIS|F1^RIS|24627-2^TDM^LN\r"
        + "IPC|A1|RP1|1.2.3.4.5.6|SPS1|CT\r"
    )


def write(folder: Path, files: dict[str, str | bytes]) -> list[Path]:
    """The traffic files, as a vendor records them."""
    out = []
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out.append(path)
    return out


def pharmacy_traffic(folder: Path, dispense_order: str = "RX2") -> list[Path]:
    """One file per pharmacy scenario."""
    return write(
        folder,
        {
            "RX-01_new.hl7": rx("RX-01-1", "order", order="RX1"),
            "RX-02_order_dispense.hl7": rx("RX-02-1", "order", order="RX2")
            + "\n"
            + rx("RX-02-2", "dispense", order=dispense_order),
            "RX-03_cancel.hl7": rx("RX-03-1", "order", order="RX3")
            + "\n"
            + rx("RX-03-2", "dispense", order="RX3")
            + "\n"
            + rx("RX-03-3", "order", control="CA", order="RX3"),
            "RX-04_admin.hl7": rx("RX-04-1", "admin", order="RX4"),
            "RX-05_french.hl7": rx("RX-05-1", "order", order="RX5", msh18="8859/1").encode("latin-1"),
            "RX-06_bad_din.hl7": rx("RX-06-1", "order", order="RX6", din="56057"),
        },
    )


def test_pharmacy_plan_passes_with_good_traffic(tmp_path: Path) -> None:
    """All six pharmacy scenarios pass."""
    plan = load_plan("tgv-pharmacy-2026.1")
    result = run_campaign(plan, judge_files(plan, pharmacy_traffic(tmp_path)), ("Acme", "RxSys", "1"))
    problems = {s.scenario.id: [p for st in s.steps for p in st.problems] for s in result.scenarios if not s.passed}
    assert problems == {}
    assert result.passed


def test_pharmacy_plan_fails_a_dispense_on_another_prescription(tmp_path: Path) -> None:
    """RX-02's dispense names another prescription: that scenario fails, the others pass."""
    plan = load_plan("tgv-pharmacy-2026.1")
    traffic = pharmacy_traffic(tmp_path, dispense_order="RX9")
    result = run_campaign(plan, judge_files(plan, traffic), ("Acme", "RxSys", "1"))
    assert [s.scenario.id for s in result.scenarios if not s.passed] == ["RX-02"]
    assert not result.passed


def test_imaging_plan_passes_with_good_traffic(tmp_path: Path) -> None:
    """All six imaging scenarios pass, including the encapsulated PDF and the refused message."""
    pdf = base64.b64encode(b"%PDF-1.4\n%\xe2\xe3\n").decode()
    files = write(
        tmp_path,
        {
            "IMG-01_order.hl7": omi("IMG-01-1"),
            "IMG-02_prelim_final.hl7": img("IMG-02-1", "P", accession="A2")
            + "\n"
            + img("IMG-02-2", "F", accession="A2"),
            "IMG-03_corrected.hl7": img("IMG-03-1", "C", accession="A3"),
            "IMG-04_pdf.hl7": img(
                "IMG-04-1", "F", f"OBX|1|ED|18748-4^Rapport^LN||^Application^PDF^Base64^{pdf}||||||F\r", "A4"
            ),
            "IMG-05_french.hl7": img(
                "IMG-05-1", "F", "OBX|1|TX|18782-3^Impression^LN||Aucune lésion.||||||F\r", "A5", "8859/1"
            ).encode("latin-1"),
            "IMG-06_refused.hl7": img("IMG-06-1", "Q", accession="A6"),  # OBR-25 Q: not in the value set
        },
    )
    plan = load_plan("tgv-imaging-2026.1")
    result = run_campaign(plan, judge_files(plan, files), ("Acme", "RIS", "7"))
    problems = {s.scenario.id: [p for st in s.steps for p in st.problems] for s in result.scenarios if not s.passed}
    assert problems == {}
