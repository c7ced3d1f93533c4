"""../shared/reference/bad-inputs.md rows 1-7: framing (VT, FS, CR, sizes), through the real listener."""

from __future__ import annotations

import pytest
from raw_mllp import CR, FS, VT, Conn, err, frame, last_journal, oru
from servers import Server

from hub.cli.client import parse_ack

pytestmark = pytest.mark.slow


def test_row01_empty_frame(conn: Conn, module_server: Server) -> None:
    """Empty frame: AR with empty MSA-2, journaled."""
    ack = conn.ack(b"\x0b\x1c\r")
    assert (ack.code, ack.control_id) == ("AR", "")
    assert last_journal(module_server).status == "rejected"


def test_row02_whitespace_before_vt(conn: Conn) -> None:
    """Bytes before VT are tolerated."""
    assert conn.ack(b"\r\n  " + frame(oru())).code == "AA"


def test_row03_no_vt_closes_and_is_journaled(conn: Conn, module_server: Server) -> None:
    """Raw HL7 without VT: connection closed, no reply, journaled as a protocol failure."""
    conn.send(oru().encode() + FS + CR)
    assert conn.closed()
    assert last_journal(module_server).status == "protocol"


def test_row04_fs_without_cr(conn: Conn) -> None:
    """FS LF, and FS followed directly by the next VT, are tolerated."""
    assert conn.ack(VT + oru().encode() + FS + b"\n").code == "AA"
    conn.send(VT + oru().encode() + FS + frame(oru()))
    first, second = conn.reply(), conn.reply()
    assert first is not None and parse_ack(first).code == "AA"
    assert second is not None and parse_ack(second).code == "AA"


def test_row05_vt_inside_payload(conn: Conn) -> None:
    """A truncated remnant before a new VT is never AA; the next frame is served."""
    conn.send(VT + oru("TRUNC1").encode()[:60] + frame(oru()))
    remnant, good = conn.reply(), conn.reply()
    assert remnant is not None and parse_ack(remnant).code == "AR"
    assert good is not None and parse_ack(good).code == "AA"


def test_row06_fs_inside_payload(conn: Conn) -> None:
    """0x1C inside the payload: the whole message is refused (AE 102), one reply, never AA."""
    text = oru().replace("Hélène", "Hél\x1cène")
    ack = conn.ack(frame(text))
    assert ack.code == "AE"
    assert err(ack) == ("PID^1^5", "102")


def test_row07_oversize_frame_closes(conn: Conn, module_server: Server) -> None:
    """A frame over the 64 KiB cap closes the connection and is journaled with its size."""
    conn.send(VT + b"MSH|^~\\&|" + b"x" * 100_000)
    assert conn.closed()
    entry = last_journal(module_server)
    assert entry.status == "protocol"
    assert entry.size > 65536
