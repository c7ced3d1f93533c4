"""Rule sets: every shipped file loads; each kind of profile constraint catches what it should."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from certification.rules import Context
from certification.ruleset import RULESETS, FieldConstraint, MessageProfile, RuleSet, RuleSetError, load_ruleset
from hub.hl7 import Code, parse, read_header

CTX = Context(now=datetime(2026, 6, 1, tzinfo=UTC))
MSG = (
    "MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|C1|P|2.5.1\r"
    "PID|1||123^^^CHUM^MR~456^^^CHUM^MR||Lavoie^Helene||19541231|F\r"
    "OBR|1||F1^LAB|2345-7^Glucose^LN\r"
)


@pytest.mark.parametrize("path", sorted(RULESETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_rule_set_loads(path: Path) -> None:
    """Each file in certification/rulesets/ is a valid rule set named after its id and version."""
    ruleset = load_ruleset(path.stem)
    assert ruleset.name == path.stem


def test_unknown_rule_set_and_unknown_rule_are_refused() -> None:
    """A wrong name lists the known ones; a rule id that does not exist can't be used."""
    with pytest.raises(RuleSetError, match="known: "):
        load_ruleset("tgv-nothing-1")
    with pytest.raises(ValueError, match="unknown rule"):
        RuleSet.model_validate({"id": "x", "version": "1", "domain": "lab", "rules": [{"id": "no.such-rule"}]})


@pytest.mark.parametrize(
    ("constraint", "code", "location"),
    [
        ({"usage": "R"}, Code.REQUIRED_FIELD_MISSING, "PID^1^6"),
        ({"usage": "X"}, Code.CARDINALITY, "PID^1^5"),
        ({"usage": "R", "cardinality": [1, 1]}, Code.CARDINALITY, "PID^1^3"),
        ({"length": 5}, Code.VALUE_TOO_LONG, "PID^1^5"),
        ({"values": ["M"]}, Code.TABLE_VALUE_NOT_FOUND, "PID^1^8"),
    ],
    ids=["usage-R", "usage-X", "cardinality", "length", "values"],
)
def test_profile_constraints(constraint: dict[str, object], code: Code, location: str) -> None:
    """Usage R/X, cardinality, length and value sets give their ERR-3 code at the field."""
    field = location.split("^")[2]
    ruleset = RuleSet(
        id="t",
        version="1",
        domain="lab",
        structure=False,
        messages={"ORU^R01": MessageProfile(fields={f"PID-{field}": FieldConstraint.model_validate(constraint)})},
    )
    msg = parse(MSG)
    (issue,) = ruleset.validate_message(msg, read_header(msg), CTX)
    assert (issue.code, str(issue.location)) == (code, location)


def test_din_rule_on_a_pharmacy_message() -> None:
    """tgv-pharmacy flags a DIN that lost its leading zero."""
    ruleset = load_ruleset("tgv-pharmacy-2026.1")
    text = (
        "MSH|^~\\&|PHX|QC|DSQ|QC|20260101120000||RDE^O11^RDE_O11|R1|P|2.5.1\r"
        "PID|1||123^^^PHX^MR||Tremblay^Luc||19700101|M\r"
        "ORC|NW|P1\r"
        "RXE|1|2242903^Digoxine 0,125 mg^DIN|0.125||mg\r"
    )
    msg = parse(text)
    rules = [i.rule for i in ruleset.validate_message(msg, read_header(msg), CTX)]
    assert "din.format" in rules


def test_a_shared_pass_reports_only_the_rules_the_set_names() -> None:
    """The lab rules share one OBX pass; a set naming one of them gets that rule's issues alone."""
    bad = MSG + "OBX|1|NM|2345-7^Glucose^LN||5.2||||||Q\r"  # no OBX-6 units, OBX-11 Q not in 0085
    msg = parse(bad)
    only_units = RuleSet(id="t", version="1", domain="lab", structure=False, rules=[{"id": "lab.nm-units"}])
    both = RuleSet(
        id="t",
        version="1",
        domain="lab",
        structure=False,
        rules=[{"id": "lab.nm-units", "severity": "W"}, {"id": "lab.obx11-status"}],
    )
    (issue,) = only_units.validate_message(msg, read_header(msg), CTX)
    assert (issue.rule, str(issue.location), issue.severity) == ("lab.nm-units", "OBX^1^6", "E")
    found = {(i.rule, str(i.location), i.severity) for i in both.validate_message(msg, read_header(msg), CTX)}
    assert found == {("lab.nm-units", "OBX^1^6", "W"), ("lab.obx11-status", "OBX^1^11", "E")}
