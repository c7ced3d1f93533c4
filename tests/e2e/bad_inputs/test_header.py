"""../shared/reference/bad-inputs.md rows 8-19: the message header (MSH), through the real listener."""

from __future__ import annotations

import pytest
from raw_mllp import Conn, err, frame, oru

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("text", "code"),
    [(oru() + oru(), "100"), ("FHS|^~\\&\r" + oru(), "200"), ("BHS|^~\\&\r" + oru(), "200")],
    ids=["two-msh", "fhs", "bhs"],
)
def test_row08_several_messages_or_batches(conn: Conn, text: str, code: str) -> None:
    """Two messages in one frame, or a batch, are refused with AR."""
    ack = conn.ack(frame(text))
    assert ack.code == "AR"
    assert err(ack)[1] == code


def test_row09_first_segment_not_msh(conn: Conn) -> None:
    """EVN/PID first: AR 100 with empty MSA-2."""
    ack = conn.ack(frame("PID|1||123\rOBX|1\r"))
    assert (ack.code, ack.control_id, err(ack)[1]) == ("AR", "", "100")


def test_row10_msh_too_short(conn: Conn) -> None:
    """MSH|^~ is AR with empty MSA-2."""
    ack = conn.ack(frame("MSH|^~"))
    assert (ack.code, ack.control_id) == ("AR", "")


@pytest.mark.parametrize("msh", ["MSH ^~\\&|A", "MSH|^~|&|A", "MSH|^^\\&|A"], ids=["space", "fs-in-msh2", "dupe"])
def test_row11_bad_encoding_characters(conn: Conn, msh: str) -> None:
    """Whitespace separator, separator inside MSH-2, duplicate encoding characters: AR."""
    assert conn.ack(frame(msh + "|B|C|D|20260101||ORU^R01|X|P|2.5.1\r")).code == "AR"


def test_row12_nonstandard_delimiters_answered_in_kind(conn: Conn) -> None:
    """MSH@#~\\& parses, and the ACK uses the sender's delimiters."""
    text = oru().replace("|", "@").replace("^", "#")
    conn.send(frame(text))
    raw = conn.reply()
    assert raw is not None
    assert raw.startswith(b"MSH@#~\\&@")
    assert b"MSA@AA@" in raw


def test_row13_five_character_msh2(conn: Conn) -> None:
    """MSH-2 ^~\\&# (v2.7 style) with a \\P\\ escape is accepted."""
    text = oru().replace("MSH|^~\\&|", "MSH|^~\\&#|").replace("Hélène", "Hél\\P\\ène")
    assert conn.ack(frame(text)).code == "AA"


def test_row14_msh9_empty(conn: Conn) -> None:
    """MSH-9 empty: AR 101 at MSH^1^9."""
    ack = conn.ack(frame(oru().replace("ORU^R01^ORU_R01", "")))
    assert ack.code == "AR"
    assert err(ack) == ("MSH^1^9", "101")


@pytest.mark.parametrize(
    ("msg_type", "code"), [("ZZZ^Z01", "200"), ("ORU^R99", "201"), ("ADT^A01", "200")], ids=["zzz", "event", "adt"]
)
def test_row15_unsupported_type(conn: Conn, msg_type: str, code: str) -> None:
    """Unknown type or event on the lab channel: AR 200/201."""
    ack = conn.ack(frame(oru().replace("ORU^R01^ORU_R01", msg_type)))
    assert ack.code == "AR"
    assert err(ack) == ("MSH^1^9", code)


def test_row16_msh10_empty(conn: Conn) -> None:
    """MSH-10 empty: AE 101 at MSH^1^10, empty MSA-2, never AA."""
    ack = conn.ack(frame(oru("")))
    assert (ack.code, ack.control_id) == ("AE", "")
    assert err(ack) == ("MSH^1^10", "101")


@pytest.mark.parametrize(
    ("cid", "version", "echo"),
    [("X" * 25, "2.3", "X" * 25), ("A^B", "2.5.1", ""), ("Y" * 250, "2.5.1", "")],
    ids=["too-long-v23", "delimiter", "too-long-v251"],
)
def test_row17_msh10_too_long_or_with_delimiters(conn: Conn, cid: str, version: str, echo: str) -> None:
    """AE 104; MSA-2 echoes MSH-10 only when that is safe."""
    ack = conn.ack(frame(oru(cid, version=version)))
    assert ack.code == "AE"
    assert ack.control_id == echo
    assert "104" in ack.errors[0]


@pytest.mark.parametrize("processing", ["T", "D"])
def test_row18_processing_id_not_production(conn: Conn, processing: str) -> None:
    """T or D on the production channel: AR 202 at MSH^1^11."""
    ack = conn.ack(frame(oru(processing=processing)))
    assert ack.code == "AR"
    assert err(ack) == ("MSH^1^11", "202")


@pytest.mark.parametrize("version", ["2.9", "3.0"])
def test_row19_unknown_version(conn: Conn, version: str) -> None:
    """MSH-12 unknown: AR 203 at MSH^1^12."""
    ack = conn.ack(frame(oru(version=version)))
    assert ack.code == "AR"
    assert err(ack) == ("MSH^1^12", "203")
