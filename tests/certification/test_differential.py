"""Differential test: our structural verdict against hl7apy's strict validation, for every sample.

Where the verdicts differ, DIFFERENCES names the sample, what hl7apy raised, and why we differ.
"""

from __future__ import annotations

import warnings

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator
from shared_samples import samples

from certification.conformance import validate_structure
from hub.hl7 import HL7Error, RejectError, decode, parse, read_header
from hub.hl7.files import split_messages

LENGTH = "hl7apy counts the length of the escaped text; we check the decoded value (\\.br\\ is one character)"
COMPONENTS = "the sender uses components a later HL7 version added; we check each field's first component only"
BUILD = "hl7apy's strict mode can't build this message (no MSH-9.3 in v2.3, an unknown segment, or empty MSH-9)"
VALUE = "hl7apy type-checks a component we don't (TN, SI inside a composite)"

# (file, message number) -> (what hl7apy raised, why the verdicts differ)
DIFFERENCES: dict[tuple[str, int], tuple[str, str]] = {
    ("athena_lri_amylase_LF.hl7", 1): ("InvalidName", COMPONENTS),
    ("cdc_ti_CA_nbs_oru.hl7", 1): ("MaxLengthReached", LENGTH),
    ("cerner_elr_lead.hl7", 1): ("MaxChildLimitReached", COMPONENTS),
    ("hapi_hl7std_oml_oul_orl_multi.hl7", 13): (
        "ValidationError",
        "hl7apy wants an OBSERVATION_REQUEST inside ORDER_PRIOR of v2.5 OML_O21; we read the group as optional",
    ),
    ("ms_rde_o25_v28.hl7", 1): ("OperationNotAllowed", BUILD),
    ("dcm4che_oru_r01_pdf_base64_ed.hl7", 1): (
        "MaxLengthReached",
        "hl7apy caps the ED data component (ED-5, base64) at 199 characters; HL7 types it TX, up to 65536",
    ),
    ("hapi_rde_o11_digoxin_v24.hl7", 1): (
        "valid",
        "hl7apy's group matcher places the RXR that precedes RXE in another group; we follow RDE_O11's order",
    ),
}


def _parses(raw: bytes) -> bool:
    try:
        parse(decode(raw).text)
    except HL7Error:
        return False
    return True


def _messages() -> list[tuple[str, int, bytes]]:
    """Every sample message our parser reads (the refused ones are test_oracle's business)."""
    out = []
    for path in samples("hl7v2", "*/*.hl7"):
        for n, raw in enumerate(split_messages(path.read_bytes()), start=1):
            if _parses(raw):
                out.append((path.name, n, raw))
    return out


def _theirs(text: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            msg = parse_message(text.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
            return "valid" if Validator.validate(msg, report_file=None) else "invalid"
    except Exception as exc:
        return type(exc).__name__


@pytest.mark.parametrize(("name", "n", "raw"), _messages(), ids=lambda v: v if isinstance(v, str) else None)
def test_structural_verdict_matches_hl7apy_strict(name: str, n: int, raw: bytes) -> None:
    """Valid for both, invalid for both, or a listed difference with the exception hl7apy raised."""
    msg = parse(decode(raw).text)
    header = read_header(msg)
    try:
        ours_valid = not [i for i in validate_structure(msg, header.version) if i.severity == "E"]
    except RejectError:  # no such structure in the model: invalid (AR 200)
        ours_valid = False
    theirs = _theirs(decode(raw).text)
    theirs_valid = theirs == "valid"
    if ours_valid == theirs_valid:
        assert (name, n) not in DIFFERENCES, f"{name}#{n} agrees now: remove it from DIFFERENCES"
        return
    assert (name, n) in DIFFERENCES, f"{name}#{n}: ours {'valid' if ours_valid else 'invalid'}, hl7apy {theirs}"
    assert DIFFERENCES[(name, n)][0] == theirs
