"""The ER7 parser, escapes, charsets and header extraction."""

from __future__ import annotations

import pytest

from hub.hl7 import Code, ContentError, Delimiters, HL7Error, RejectError, decode, escape, parse, read_header, unescape

ORU = (
    "MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|C1|P|2.5.1\r"
    "PID|1||123^^^CHUM^MR~LAVH54123112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"
    "OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101\r"
    "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
)


def test_fields_repetitions_components_subcomponents() -> None:
    """Values are addressed by field, repetition, component and subcomponent."""
    msg = parse(ORU)
    pid = msg.first("PID")
    assert pid is not None
    assert pid.value(3, 1, rep=2) == "LAVH54123112"
    assert pid.value(3, 5, rep=2) == "NAM"
    assert pid.value(5, 2) == "Hélène"
    assert msg.msh.value(9, 3) == "ORU_R01"
    assert msg.msh.raw(1) == "|" and msg.msh.raw(2) == "^~\\&"


def test_delimiters_come_from_msh() -> None:
    """Non-standard delimiters are read from MSH-1/MSH-2, never assumed (row 12)."""
    text = ORU.replace("|", "@").replace("^", "#").replace("MSH@#~\\&", "MSH@#~\\&")
    msg = parse(text)
    assert msg.d == Delimiters("@", "#", "~", "\\", "&")
    assert read_header(msg).message_type == "ORU^R01"


def test_five_character_msh2_and_truncation_escape() -> None:
    """v2.7 MSH-2 with a truncation character, and its \\P\\ escape (row 13)."""
    msg = parse("MSH|^~\\&#|A|B|C|D|20260101||ORU^R01|X|P|2.7\rNTE|1||cut\\P\\here\r")
    assert msg.d.truncation == "#"
    nte = msg.first("NTE")
    assert nte is not None and nte.value(3) == "cut#here"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f"),
        ("line1\\.br\\line2", "line1\nline2"),
        ("\\X41C3A9\\", "AÃ©"),
        ("keep \\H\\bold\\N\\", "keep \\H\\bold\\N\\"),
    ],
)
def test_escape_sequences(raw: str, decoded: str) -> None:
    """Known escape sequences decode; formatting commands are kept as sent."""
    assert unescape(raw, Delimiters()) == decoded


def test_unknown_and_unterminated_escapes_are_kept_with_a_warning() -> None:
    """Unknown or unterminated sequences survive unchanged and are reported."""
    notes: list[str] = []
    assert unescape("a\\Q\\b", Delimiters(), notes) == "a\\Q\\b"
    assert unescape("x\\X4", Delimiters(), notes) == "x\\X4"
    assert notes == ["unknown escape sequence kept", "unterminated escape sequence kept"]


def test_unknown_escape_in_a_message_is_a_located_warning() -> None:
    """A message keeping an unknown escape sequence carries a W issue at its field."""
    msg = parse(ORU.replace("5.4", "5\\Q\\4"))
    (issue,) = [w for w in msg.warnings if "escape" in w.text_en]
    assert (str(issue.location), issue.severity) == ("OBX^1^5", "W")
    assert not [w for w in parse(ORU.replace("5.4", "5\\.br\\4")).warnings if "escape" in w.text_en]


def test_escape_round_trips() -> None:
    """Escape then unescape gives the text back."""
    text = "a|b^c&d~e\\f\nœdème"
    assert unescape(escape(text, Delimiters()), Delimiters()) == text


@pytest.mark.parametrize("terminator", ["\n", "\r\n"])
def test_lf_and_crlf_terminators_are_normalized_with_a_warning(terminator: str) -> None:
    """LF and CRLF segment terminators parse like CR and raise a warning (row 27)."""
    msg = parse(ORU.replace("\r", terminator))
    assert [s.id for s in msg.segments] == ["MSH", "PID", "OBR", "OBX"]
    assert any("normalized" in w.text_en for w in msg.warnings)


def test_blank_lines_are_ignored_with_a_warning() -> None:
    """Empty segments are skipped, not data (row 28)."""
    msg = parse(ORU.replace("\rPID", "\r\r\rPID"))
    assert [s.id for s in msg.segments] == ["MSH", "PID", "OBR", "OBX"]
    assert any("blank" in w.text_en for w in msg.warnings)


def test_segment_with_id_only_is_accepted() -> None:
    """A segment with no fields is an empty segment (row 29)."""
    msg = parse(ORU + "PV1\r")
    pv1 = msg.first("PV1")
    assert pv1 is not None and pv1.raw(1) == ""


def test_msh_inside_a_field_does_not_split() -> None:
    """The text MSH inside PID is data (row 43)."""
    msg = parse(ORU.replace("Lavoie^Hélène", "MSH|Lavoie"))
    assert len(msg.all("MSH")) == 1


@pytest.mark.parametrize(
    ("text", "error", "code", "location"),
    [
        ("PID|1\r", RejectError, Code.SEGMENT_SEQUENCE, "PID^1"),
        ("MSH|^~\r", RejectError, Code.DATA_TYPE, "MSH^1^2"),
        ("MSH| ~\\&|A\r", RejectError, Code.DATA_TYPE, "MSH^1^2"),
        ("MSH|^^\\&|A\r", RejectError, Code.DATA_TYPE, "MSH^1^2"),
        (ORU + "MSH|^~\\&|X\r", RejectError, Code.SEGMENT_SEQUENCE, "MSH^2"),
        ("FHS|^~\\&\r" + ORU, RejectError, Code.UNSUPPORTED_MESSAGE_TYPE, "FHS^1"),
        (ORU + "pid|1\r", ContentError, Code.SEGMENT_SEQUENCE, "pid^5"),
        (ORU + "ZZZZ|1\r", ContentError, Code.SEGMENT_SEQUENCE, "ZZZZ^5"),
        (ORU.replace("5.4", "5\x004"), ContentError, Code.DATA_TYPE, "OBX^1^5"),
        (ORU.replace("5.4", "5\x7f4"), ContentError, Code.DATA_TYPE, "OBX^1^5"),
    ],
)
def test_malformed_messages_raise_located_errors(text: str, error: type[HL7Error], code: Code, location: str) -> None:
    """Each malformed input raises its error class with the ERR-3 code and ERR-2 location."""
    with pytest.raises(error) as info:
        parse(text)
    issue = info.value.issues[0]
    assert (issue.code, str(issue.location)) == (code, location)


def test_segment_cap() -> None:
    """Too many segments is AE 104, checked before splitting (row 44)."""
    with pytest.raises(ContentError) as info:
        parse(ORU + "NTE|1\r" * 50, max_segments=20)
    assert info.value.issues[0].code is Code.VALUE_TOO_LONG


def test_charset_resolution_order() -> None:
    """BOM first, then MSH-18, then the channel default."""
    latin = ORU.replace("|2.5.1\r", "|2.5.1||||||8859/1\r").encode("latin-1")
    assert decode(latin).codec == "iso8859-1"
    assert "Hélène" in decode(latin).text
    assert decode(b"\xef\xbb\xbf" + ORU.encode()).source == "bom"
    assert decode(ORU.encode("utf-8"), "utf-8").source == "default"


def test_undecodable_bytes_and_unknown_charsets_are_refused() -> None:
    """Invalid UTF-8 is AE 102 at its field; an unknown MSH-18 is AR 103 (rows 24, 25)."""
    bad = ORU.replace("|2.5.1\r", "|2.5.1||||||UNICODE UTF-8\r").encode("utf-8").replace(b"5.4", b"5\xff4")
    with pytest.raises(ContentError) as info:
        decode(bad)
    assert (info.value.issues[0].code, str(info.value.issues[0].location)) == (Code.DATA_TYPE, "OBX^1^5")
    unknown = ORU.replace("|2.5.1\r", "|2.5.1||||||ISO IR 999\r").encode()
    with pytest.raises(RejectError) as info2:
        decode(unknown)
    assert str(info2.value.issues[0].location) == "MSH^1^18"


def test_utf8_bytes_under_a_latin1_label_are_refused() -> None:
    """UTF-8 bytes declared as 8859/1 would be mojibake: AE 102 at MSH-18 (row 25)."""
    mislabelled = ORU.replace("|2.5.1\r", "|2.5.1||||||8859/1\r").encode("utf-8")
    with pytest.raises(ContentError) as info:
        decode(mislabelled)
    assert str(info.value.issues[0].location) == "MSH^1^18"
