"""Plain helpers the test modules share (importable because pytest puts tests/ on the path)."""

from __future__ import annotations


def obr(status: str = "F", filler: str = "F1") -> str:
    """An OBR with OBR-25 result status set."""
    return "|".join(
        ["OBR", "1", "", f"{filler}^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    )


def lab_message(cid: str, app: str = "LIS", fac: str = "CHUM") -> bytes:
    """A lab result that passes tgv-lab-2026.1, from (MSH-3, MSH-4), with control ID `cid`."""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        f"PID|1||P1^^^CHUM^MR||Test^Lab||19700101|F\r{obr()}\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F\r"
    ).encode()
