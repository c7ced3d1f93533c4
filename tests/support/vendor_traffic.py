"""Certification traffic from a vendor (LAB-01 to LAB-06 of the tgv-lab plan), as it records it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def _obr(status: str, filler: str = "F100") -> str:
    return "|".join(
        ["OBR", "1", "", f"{filler}^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    )


def vendor_message(
    cid: str,
    status: str,
    *,
    app: str = "VENDLAB",
    fac: str = "LABO",
    obx_status: str = "F",
    obx3: str = "2345-7^Glucose^LN",
    charset: str = "",
    note: str = "",
    filler: str = "F100",
) -> str:
    """A v2.5.1 ORU^R01 from the product under test (MSH-11 T)."""
    msh18 = f"||||||{charset}" if charset else ""
    nte = f"NTE|1||{note}\r" if note else ""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|T|2.5.1{msh18}\r"
        "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Helene||19541231|F\r"
        f"{_obr(status, filler)}\r{nte}"
        f"OBX|1|NM|{obx3}||5.4|mmol/L|3.9-6.1|N|||{obx_status}\r"
    )


def vendor_traffic(folder: Path, app: str = "VENDLAB", fac: str = "LABO") -> list[Path]:
    """One file per scenario, named after it, as a vendor would record them."""
    files = {
        "LAB-01_final.hl7": vendor_message("LAB-01-1", "F", app=app, fac=fac).encode(),
        "LAB-02_prelim_then_final.hl7": (
            vendor_message("LAB-02-1", "P", app=app, fac=fac, obx_status="P", filler="F200")
            + "\n"
            + vendor_message("LAB-02-2", "F", app=app, fac=fac, filler="F200")
        ).encode(),
        "LAB-03_corrected.hl7": vendor_message("LAB-03-1", "C", app=app, fac=fac, obx_status="C").encode(),
        "LAB-04_cancelled.hl7": vendor_message("LAB-04-1", "X", app=app, fac=fac, obx_status="X").encode(),
        "LAB-05_french.hl7": vendor_message(
            "LAB-05-1", "F", app=app, fac=fac, charset="8859/1", note="Échantillon hémolysé"
        ).encode("latin-1"),
        "LAB-06_refused.hl7": vendor_message("LAB-06-1", "F", app=app, fac=fac, obx3="GLU^Glucose^L").encode(),
    }
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


class VendorMessage(Protocol):
    """`vendor_message`'s signature."""

    def __call__(
        self,
        cid: str,
        status: str,
        *,
        app: str = ...,
        fac: str = ...,
        obx_status: str = ...,
        obx3: str = ...,
        charset: str = ...,
        note: str = ...,
        filler: str = ...,
    ) -> str:
        """A message of the vendor's traffic."""


@dataclass
class TrafficMaker:
    """The vendor traffic helpers, as the `traffic_maker` fixture hands them out."""

    message: VendorMessage
    files: Callable[[Path], list[Path]]
