"""What the benchmarks send: the 2 KB lab message, a prescription and a radiology report; and their sender."""

from __future__ import annotations

import zlib

# The sender of every bench message (MSH-3 SIL, MSH-4 CHUM), approved as a government system.
LAB_PARTNER: dict[str, object] = {
    "id": "bench-sil-chum",
    "name": "Bench sender",
    "organization": "chum",
    "authorities": ["CHUM"],
    "category": "government",
    "domains": ["lab"],
    "product": {"name": "bench", "version": "1"},
    "identities": [{"sending_application": "SIL", "sending_facility": "CHUM"}],
}


# Its organization, a hospital: it may feed every domain.
ORGANIZATIONS: list[dict[str, object]] = [{"id": "chum", "name": "CHUM", "type": "hospital"}]


def oru(control_id: str) -> bytes:
    """A 2 KB ORU^R01 (v2.5.1), eight observations; its own control ID, order number, one of 500 patients."""
    obx = "".join(
        f"OBX|{i}|NM|{2345 + i}-7^Analyte {i} in Serum or Plasma^LN^GLU{i}^Analyte {i}^L||{4 + i}.{i}|mmol/L^"
        f"millimole per liter^UCUM|3.9-6.1|N|||F|||20260101083000-0500|||||||||Laboratoire CHUM^L^^^^CHUM\r"
        for i in range(1, 9)
    )
    return (
        f"MSH|^~\\&|SIL^2.16.124.1^ISO|CHUM^2.16.124.2^ISO|DSQ|QC|20260101120000-0500||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1|||AL|NE|CAN|UNICODE UTF-8\r"
        f"PID|1||{zlib.crc32(control_id.encode()) % 500}^^^CHUM^MR||Lavoie^Hélène^Marie||19541231|F|||"
        "1234 rue Sainte-Catherine^^Montréal^QC^H3B 1A7^CAN\r"
        f"ORC|RE|P{control_id}^SIL|F{control_id}^LAB||CM\r"
        f"OBR|1|P{control_id}^SIL|F{control_id}^LAB|24323-8^Comprehensive metabolic panel^LN|||"
        "20260101080000-0500|||||||||"
        "1234^Tremblay^Luc^^^Dr||||||20260101110000-0500|||F\r"
        "NTE|1||Échantillon prélevé à jeun\r" + obx
    ).encode("utf-8")


def rde(control_id: str) -> bytes:
    """A pharmacy RDE^O11 (v2.5): a new prescription with its DIN, one of 500 patients."""
    rxe = ["RXE", "^BID", "00056057^Amoxicilline 500 mg^DIN", "1", "", "CAP^capsule", "CAP^capsule", "", "", ""]
    rxe += ["20", "CAP^capsule", "2"] + [""] * 12 + ["500", "mg"]
    return (
        f"MSH|^~\\&|SIL^2.16.124.1^ISO|CHUM^2.16.124.2^ISO|DSQ|QC|20260102090000||RDE^O11^RDE_O11|{control_id}|P|2.5\r"
        f"PID|1||{zlib.crc32(control_id.encode()) % 500}^^^CHUM^MR||Lavoie^Hélène||19541231|F\r"
        f"ORC|NW|RX{control_id}^PHARM|||||||20260102085500|||1234^Tremblay^Luc\r"
        + "|".join(rxe)
        + "\rTQ1|1||BID\rRXR|PO^orale\r"
    ).encode("utf-8")


def radiology(control_id: str) -> bytes:
    """An imaging ORU^R01 (v2.5.1): a final CT report with its accession and two text lines."""
    obr = ["OBR", "1", "", f"F{control_id}^RIS", "24627-2^TDM thorax^LN", "", "", "20260103080000"]
    obr += [""] * 10 + [f"ACC{control_id}"] + [""] * 6 + ["F"]
    return (
        f"MSH|^~\\&|SIL^2.16.124.1^ISO|CHUM^2.16.124.2^ISO|DSQ|QC|20260103120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        f"PID|1||{zlib.crc32(control_id.encode()) % 500}^^^CHUM^MR||Gagnon^Josée||19600101|F\r"
        + "|".join(obr)
        + "\rOBX|1|FT|18782-3^Impression^LN||Poumons clairs.\\.br\\Aucune lésion suspecte.||||||F\r"
    ).encode("utf-8")
