"""../shared/reference/bad-inputs.md rows 22-30 and 42-45, through the real listener.

Duplicates, charsets, control characters, segments, ACKs sent to the hub, a database outage.
"""

from __future__ import annotations

import sqlite3

import pytest
from raw_mllp import Conn, err, frame, last_journal, oru
from servers import Server

from hub.cli.client import parse_ack

pytestmark = pytest.mark.slow


def test_row22_duplicate_same_content(conn: Conn, module_server: Server) -> None:
    """The same message again gets the stored ACK, byte for byte; journaled as duplicate."""
    text = frame(oru("DUP-SAME"))
    conn.send(text)
    first = conn.reply()
    conn.send(text)
    second = conn.reply()
    assert first is not None and parse_ack(first).code == "AA"
    assert first == second
    assert last_journal(module_server).status == "duplicate"


def test_row23_duplicate_other_content(conn: Conn, module_server: Server) -> None:
    """Same MSH-10, other bytes: AE 205, journaled as conflict."""
    assert conn.ack(frame(oru("DUP-OTHER"))).code == "AA"
    ack = conn.ack(frame(oru("DUP-OTHER").replace("5.4", "9.9")))
    assert ack.code == "AE"
    assert err(ack) == ("MSH^1^10", "205")
    assert last_journal(module_server).status == "conflict"


def test_row24_invalid_utf8(conn: Conn) -> None:
    """Invalid UTF-8 under MSH-18 UNICODE UTF-8: AE 102 at the field holding it."""
    raw = oru(extra="||||||UNICODE UTF-8").encode().replace(b"5.4", b"5\xff4")
    ack = conn.ack(frame(raw))
    assert ack.code == "AE"
    assert err(ack) == ("OBX^1^5", "102")


def test_row25_unknown_or_mismatched_charset(conn: Conn) -> None:
    """Unknown MSH-18: AR 103; UTF-8 bytes labelled 8859/1: AE 102; both at MSH^1^18."""
    unknown = conn.ack(frame(oru(extra="||||||ISO IR 999")))
    assert unknown.code == "AR"
    assert err(unknown) == ("MSH^1^18", "103")
    mismatch = conn.ack(frame(oru(extra="||||||8859/1").encode("utf-8")))
    assert mismatch.code == "AE"
    assert err(mismatch) == ("MSH^1^18", "102")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x7f"])
def test_row26_control_characters(conn: Conn, char: str) -> None:
    """NUL, other C0 controls and DEL in a field: AE 102 with the location."""
    ack = conn.ack(frame(oru().replace("5.4", f"5{char}4")))
    assert ack.code == "AE"
    assert err(ack) == ("OBX^1^5", "102")


@pytest.mark.parametrize("terminator", ["\n", "\r\n", "mixed"])
def test_row27_lf_crlf_mixed_terminators(conn: Conn, terminator: str) -> None:
    """Accepted and normalized, with an ERR of severity W."""
    text = oru().replace("\rOBR", "\nOBR") if terminator == "mixed" else oru().replace("\r", terminator)
    ack = conn.ack(frame(text))
    assert ack.code == "AA"
    assert any("|W|" in e for e in ack.errors)


def test_row28_blank_lines(conn: Conn) -> None:
    """Empty segments are ignored with a warning."""
    ack = conn.ack(frame("\r" + oru().replace("\rOBR", "\r\r\rOBR") + "\r\r"))
    assert ack.code == "AA"
    assert any("|W|" in e for e in ack.errors)


def test_row29_segment_with_id_only(conn: Conn) -> None:
    """PV1 with no fields is accepted."""
    assert conn.ack(frame(oru().replace("\rOBR", "\rPV1\rOBR"))).code == "AA"


@pytest.mark.parametrize("segment", ["pid|1", "PI|1", "PIDX|1"])
def test_row30_bad_segment_ids(conn: Conn, segment: str) -> None:
    """Lower-case, 2- or 4-character segment IDs: AE 100."""
    ack = conn.ack(frame(oru() + segment + "\r"))
    assert ack.code == "AE"
    assert err(ack)[1] == "100"


def test_row42_ack_is_never_acknowledged(conn: Conn, module_server: Server) -> None:
    """An ACK sent to the hub gets no reply and is journaled as ignored; the link keeps working."""
    conn.send(frame("MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101||ACK^R01^ACK|A1|P|2.5.1\rMSA|AA|X1\r"))
    assert conn.reply(timeout=1.5) is None
    assert last_journal(module_server).status == "ignored"
    assert conn.ack(frame(oru())).code == "AA"


def test_row43_msh_inside_pid(conn: Conn) -> None:
    """The text MSH inside PID does not split the message."""
    assert conn.ack(frame(oru().replace("Lavoie^Hélène", "MSH Lavoie^Hélène"))).code == "AA"


def test_row44_too_many_segments(conn: Conn) -> None:
    """More segments than the cap: AE 104 (the frame is within its byte cap)."""
    ack = conn.ack(frame(oru() + "OBX|1\r" * 10_001))
    assert ack.code == "AE"
    assert err(ack)[1] == "104"


def test_row45_database_outage(conn: Conn, module_server: Server) -> None:
    """While the database is locked the hub answers AR 207, never AA; afterwards AA again."""
    path = module_server.db_url.removeprefix("sqlite:///")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        text = frame(oru("OUTAGE-1"))
        ack = conn.ack(text)
        assert ack.code == "AR"
        assert err(ack)[1] == "207"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert conn.ack(text).code == "AA"
