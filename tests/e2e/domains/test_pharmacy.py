"""Pharmacy through the real listener: medication lists from orders, dispenses and cancels; drug codes."""

from __future__ import annotations

import pytest
from domain_hub import DomainHub, send, show

pytestmark = pytest.mark.slow


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


def test_order_dispense_cancel_leaves_a_right_medication_list(hub: DomainHub) -> None:
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


def test_unrecognized_drug_code_is_stored_flagged_and_warned(hub: DomainHub) -> None:
    """A code outside the DIN system: AA with a W ERR at RXE-2, stored with recognized false."""
    (ack,) = send(hub.port, rx("RX-9", "order", din="0006-0740-31", system="NDC"))
    assert ack.code == "AA"
    assert any("RXE^1^2" in e and "|W|" in e for e in ack.errors), ack.errors
    (med,) = show(hub, "LAVH54623112")["pharmacy"]["medications"]
    assert med["drug"]["recognized"] is False
    assert med["drug"]["code"] == "0006-0740-31"


def test_malformed_din_is_refused(hub: DomainHub) -> None:
    """din.format: a code declared DIN that is not 8 digits gets AE 102 at RXE-2.1."""
    (ack,) = send(hub.port, rx("RX-8", "order", din="56057"))
    assert ack.code == "AE"
    assert any("RXE^1^2" in e and "102" in e for e in ack.errors), ack.errors
