"""ACK building: original and enhanced modes, swapped MSH, ERR segments per version."""

from __future__ import annotations

from datetime import datetime

import pytest

from hub.hl7 import Code, Header, Issue, Location, ack_code, build_ack, parse, read_header
from hub.hl7.errors import warning

NOW = datetime(2026, 1, 2, 3, 4, 5)


def header(version: str = "2.5.1", msh15: str = "", msh16: str = "", delims: str = "|^~\\&") -> Header:
    """The header of a minimal inbound message."""
    fs, enc = delims[0], delims[1:]
    fields = ["MSH", enc, "LIS", "CHUM", "DSQ", "QC", "20260101", "", f"ORU{enc[0]}R01", "C42", "P", version]
    fields += ["", "", msh15, msh16]
    return read_header(parse(fs.join(fields) + f"\rPID{fs}1\r"))


def ack(code: str, h: Header | None, issues: tuple[Issue, ...] = ()) -> list[list[str]]:
    """The ACK as segments split on |."""
    text = build_ack(code, h, issues, application="HUB", facility="DSQ", control_id="A1", now=NOW)
    return [seg.split("|") for seg in text.rstrip("\r").split("\r")]


def test_msh_swaps_sender_and_receiver_and_names_the_event() -> None:
    """MSH-3/4 <-> MSH-5/6, MSH-9 ACK^R01^ACK, MSA-2 the inbound MSH-10, same version."""
    msh, msa = ack("AA", header())
    assert msh[2:6] == ["DSQ", "QC", "LIS", "CHUM"]
    assert msh[8] == "ACK^R01^ACK"
    assert msh[9] == "A1"
    assert msh[11] == "2.5.1"
    assert msa == ["MSA", "AA", "C42"]


def test_v23_ack_has_no_structure_component_and_uses_err1() -> None:
    """Before v2.3.1 MSH-9 is ACK^R01; before v2.5 errors go in ERR-1 and MSA-3."""
    issue = Issue(Code.REQUIRED_FIELD_MISSING, Location("PID", 1, 3), "manquant", "missing")
    msh, msa, err = ack("AE", header("2.3"), (issue,))
    assert msh[8] == "ACK^R01"
    assert msa[3] == "manquant / missing"
    assert err == ["ERR", "PID^1^3^101&Required field missing&HL70357"]


def test_one_err_per_issue_with_location_code_severity_and_text() -> None:
    """v2.5+: ERR-2 location, ERR-3 table 0357, ERR-4 severity, ERR-8 bilingual text."""
    issues = (
        Issue(Code.DATA_TYPE, Location("OBX", 2, 5), "type", "type"),
        warning(Code.OTHER, Location("MSH", 1), "avertissement", "warning"),
    )
    _msh, _msa, err1, err2 = ack("AE", header(), issues)
    assert err1[2:5] == ["OBX^2^5", "102^Data type error^HL70357", "E"]
    assert err1[8] == "type / type"
    assert err2[4] == "W"


def test_ack_uses_the_senders_delimiters_and_escapes_texts() -> None:
    """The ACK answers in the inbound encoding characters; texts are escaped in them."""
    h = header(delims="@#~\\&")
    text = build_ack(
        "AE",
        h,
        (Issue(Code.OTHER, Location("MSH", 1), "a@b", "c#d"),),
        application="HUB",
        facility="DSQ",
        control_id="A1",
        now=NOW,
    )
    assert text.startswith("MSH@#~\\&@")
    assert "a\\F\\b / c\\S\\d" in text


@pytest.mark.parametrize(
    ("msh15", "msh16", "outcome", "expected"),
    [
        ("", "", "accepted", "AA"),
        ("", "", "error", "AE"),
        ("", "", "rejected", "AR"),
        ("AL", "NE", "accepted", "CA"),
        ("AL", "AL", "error", "CE"),
        ("ER", "NE", "accepted", None),
        ("ER", "NE", "rejected", "CR"),
        ("SU", "NE", "error", None),
        ("NE", "AL", "accepted", "AA"),
        ("NE", "ER", "error", "AE"),
        ("NE", "NE", "accepted", None),
    ],
)
def test_original_and_enhanced_mode_codes(msh15: str, msh16: str, outcome: str, expected: str | None) -> None:
    """MSH-15/16 (table 0155: AL, NE, ER, SU) decide between original and enhanced codes."""
    assert ack_code(outcome, header(msh15=msh15, msh16=msh16)) == expected


def test_without_a_readable_header_the_ack_uses_defaults_and_empty_msa2() -> None:
    """When MSH could not be read: default delimiters, v2.5.1, hub identity, empty MSA-2."""
    msh, msa, _err = ack("AR", None, (Issue(Code.SEGMENT_SEQUENCE, Location(), "x", "y"),))
    assert msh[2:4] == ["HUB", "DSQ"]
    assert msh[11] == "2.5.1"
    assert msa == ["MSA", "AR", ""]
