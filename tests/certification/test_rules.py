"""Every domain rule, with a message that passes it and one that breaks it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certification.rules import RULES, Context
from hub.hl7 import parse

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OBR = "|".join(["OBR", "1", "", "F1^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + ["F"])


def oru(pid: str = "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F",
        obx: str = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F|||20260101090000",
        msh7: str = "20260101120000", processing: str = "P", extra: str = "") -> str:  # fmt: skip
    """A lab result that passes every rule unless a part is replaced."""
    return f"MSH|^~\\&|LIS|CHUM|DSQ|QC|{msh7}||ORU^R01^ORU_R01|C1|{processing}|2.5.1\r{pid}\r{OBR}\r{obx}\r{extra}"


# rule id -> (a message that passes, a message that fails, the ERR-2 location of the failure)
CASES = {
    "common.msh7-present": (oru(), oru(msh7=""), "MSH^1^7"),
    "common.dates": (oru(), oru(obx="OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F|||20270101"), "OBX^1^14"),
    "common.processing-id": (oru(), oru(processing="T"), "MSH^1^11"),
    "nam.format": (oru(), oru(pid="PID|1||LAVH54133112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F"), "PID^1^3^1"),
    "nam.consistency": (
        oru(pid="PID|1||LŒWZ54623112^^^RAMQ^NAM||Lœwy^Zoé||19541231|F".replace("LŒWZ", "LOEZ")),
        oru(pid="PID|1||LAVH54123112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F"),
        "PID^1^3^1",
    ),
    "din.format": (
        oru(extra="RXE|1|02242903^Digoxine^DIN\r"),
        oru(extra="RXE|1|2242903^Digoxine^DIN\r"),
        "RXE^1^2^^1",
    ),
    "lab.obx3-coded": (oru(), oru(obx="OBX|1|NM|GLU^Glucose^L||5.4|mmol/L|||||F"), "OBX^1^3"),
    "lab.value-type": (oru(), oru(obx="OBX|1|NM|2345-7^Glucose^LN||élevé|mmol/L|||||F"), "OBX^1^5"),
    "lab.nm-units": (oru(), oru(obx="OBX|1|NM|2345-7^Glucose^LN||5.4||||||F"), "OBX^1^6"),
    "lab.obx11-status": (oru(), oru(obx="OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||Q"), "OBX^1^11"),
}


def test_every_rule_has_a_case() -> None:
    """No rule ships without a passing and a failing message below."""
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_passes_and_fails(rule_id: str) -> None:
    """The good message raises nothing; the bad one raises one issue at the expected location."""
    good, bad, location = CASES[rule_id]
    rule = RULES[rule_id]
    ctx = Context(now=NOW)
    assert rule(parse(good), ctx) == []
    (issue,) = rule(parse(bad), ctx, "W")
    assert str(issue.location) == location
    assert issue.rule == rule_id
    assert issue.severity == "W"
    assert issue.text_fr
    assert issue.text_en


def test_nam_consistency_names_each_disagreeing_field() -> None:
    """Initials, birth date and sex are each compared; accents are folded (é -> E)."""
    msg = parse(oru(pid="PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19540101|M"))
    (issue,) = RULES["nam.consistency"](msg, Context(now=NOW))
    assert issue.text_en == "NAM inconsistent with PID-7, PID-8"


def test_certification_channels_expect_t() -> None:
    """On a certification channel MSH-11 must be T, and P is the violation."""
    ctx = Context(now=NOW, certification=True)
    assert RULES["common.processing-id"](parse(oru(processing="T")), ctx) == []
    assert len(RULES["common.processing-id"](parse(oru(processing="P")), ctx)) == 1


@pytest.mark.parametrize(
    ("obx14", "future"),
    [
        ("20260601130000+0000", False),  # exactly now + the hour's tolerance
        ("20260601130001+0000", True),
        ("20260601080000-0500", False),  # the same instant as the first, five zones west
        ("20260601080000.001-0500", True),  # a millisecond past it
        ("20260601150000+0200", False),  # and east
        ("202606011300", False),  # no zone: read as UTC
        ("2026060113", False),
        ("20260602", True),  # a day: its midnight, in UTC
        ("202607", True),
    ],
)
def test_dates_beyond_the_tolerance_are_in_the_future_whatever_their_zone(obx14: str, future: bool) -> None:
    """common.dates compares instants: the same moment written in another zone is the same moment."""
    msg = parse(oru(obx=f"OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F|||{obx14}"))
    found = RULES["common.dates"](msg, Context(now=NOW))
    assert [i.text_en for i in found] == (["date in the future"] if future else [])
