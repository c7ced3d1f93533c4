"""Importing the NIST ORU_R01 conformance profile as a rule set, and applying it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from commands import invoke
from shared_samples import sample

from certification.profile_import import import_profile
from certification.rules import Context
from certification.ruleset import load_ruleset
from hub.hl7 import Code, decode, parse, read_header

PROFILE = sample("profiles", "nist_v2validation_ORU_R01_base_Profile.xml")
CTX = Context(now=datetime(2026, 6, 1, tzinfo=UTC))


def test_profile_fields_become_constraints() -> None:
    """Usage, cardinality and length come across for the profile's message."""
    ruleset, version = import_profile(PROFILE, "nist-oru", "1", "lab")
    assert version == "2.5.1"
    fields = ruleset.messages["ORU^R01"].fields
    assert fields["MSH-10"].usage == "R"
    assert fields["MSH-10"].length == 199
    assert fields["OBX-11"].length == 1
    assert fields["PID-3"].cardinality is not None


def test_imported_profile_validates_messages() -> None:
    """The NIST test case conforms; the same message without OBX-11 breaks the profile's R usage."""
    ruleset, _ = import_profile(PROFILE, "nist-oru", "1", "lab")
    text = decode(sample("hl7v2/lab", "nist_elr251_testcase1_lead.hl7").read_bytes()).text
    msg = parse(text)
    assert ruleset.validate_message(msg, read_header(msg), CTX) == []
    broken = parse(text.replace("|H|||F|||", "|H|||||||"))
    issues = ruleset.validate_message(broken, read_header(broken), CTX)
    assert (Code.REQUIRED_FIELD_MISSING, "OBX^1^11") in [(i.code, str(i.location)) for i in issues]


def test_cli_writes_a_loadable_rule_set(tmp_path: Path) -> None:
    """`certify import-profile` writes YAML that load_ruleset reads back."""
    out = tmp_path / "nist-oru-1.yaml"
    run = invoke("certify", "import-profile", str(PROFILE), "--id", "nist-oru", "--version", "1", "--out", str(out))
    assert run.exit_code == 0, run.stderr
    loaded = load_ruleset(str(out))
    assert loaded.name == "nist-oru-1"
    assert loaded.messages["ORU^R01"].fields["MSH-10"].usage == "R"
