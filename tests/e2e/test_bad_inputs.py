"""../shared/reference/bad-inputs.md rows 1-19, 22-30 and 42-45, through the real listener."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select

from hub.cli.client import Ack, parse_ack
from hub.store.models import JournalEntry

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
_counter = iter(range(1, 1_000_000))


def oru(control_id: str | None = None, version: str = "2.5.1", processing: str = "P", extra: str = "") -> str:
    """A valid lab result; each call gets its own control ID unless one is given."""
    cid = control_id if control_id is not None else f"BAD{next(_counter)}"
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|{processing}|{version}{extra}\r"
        "PID|1||123^^^CHUM^MR||Lavoie^Hélène||19541231|F\r"
        "OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
    )


class Conn:
    """A raw socket to the hub: send any bytes, read framed replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        """Send raw bytes."""
        self.sock.sendall(data)

    def reply(self, timeout: float = 10) -> bytes | None:
        """The next framed reply, or None if none comes within `timeout` (or the hub closed)."""
        self.sock.settimeout(timeout)
        while FS + CR not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        block, _, self.buf = self.buf.partition(FS + CR)
        return block[block.find(VT) + 1 :]

    def ack(self, data: bytes) -> Ack:
        """Send and parse the ACK."""
        self.send(data)
        raw = self.reply()
        assert raw is not None, "no reply"
        return parse_ack(raw)

    def closed(self) -> bool:
        """True once the hub has closed the connection."""
        self.sock.settimeout(5)
        try:
            return self.sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            return False


def frame(text: str | bytes) -> bytes:
    """One MLLP block."""
    return VT + (text.encode() if isinstance(text, str) else text) + FS + CR


@pytest.fixture
def conn(module_server: object) -> Iterator[Conn]:
    """A fresh connection to the module's server."""
    c = Conn(module_server.port)  # type: ignore[attr-defined]
    yield c
    c.sock.close()


def last_journal(module_server: object) -> JournalEntry:
    """The newest journal entry of the module's server."""
    engine = create_engine(module_server.db_url)  # type: ignore[attr-defined]
    with engine.connect() as c:
        row = c.execute(select(JournalEntry).order_by(JournalEntry.id.desc()).limit(1)).one()
    engine.dispose()
    return row  # type: ignore[return-value]


def err(ack: Ack, index: int = 0) -> tuple[str, str]:
    """(ERR-2, ERR-3 code) of one ERR segment."""
    fields = ack.errors[index].split("|")
    return fields[2], fields[3].split("^")[0]


def test_row01_empty_frame(conn: Conn, module_server: object) -> None:
    """Empty frame: AR with empty MSA-2, journaled."""
    ack = conn.ack(b"\x0b\x1c\r")
    assert (ack.code, ack.control_id) == ("AR", "")
    assert last_journal(module_server).status == "rejected"


def test_row02_whitespace_before_vt(conn: Conn) -> None:
    """Bytes before VT are tolerated."""
    assert conn.ack(b"\r\n  " + frame(oru())).code == "AA"


def test_row03_no_vt_closes_and_is_journaled(conn: Conn, module_server: object) -> None:
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


def test_row07_oversize_frame_closes(conn: Conn, module_server: object) -> None:
    """A frame over the 64 KiB cap closes the connection and is journaled with its size."""
    conn.send(VT + b"MSH|^~\\&|" + b"x" * 100_000)
    assert conn.closed()
    entry = last_journal(module_server)
    assert entry.status == "protocol"
    assert entry.size > 65536


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


def test_row22_duplicate_same_content(conn: Conn, module_server: object) -> None:
    """The same message again gets the stored ACK, byte for byte; journaled as duplicate."""
    text = frame(oru("DUP-SAME"))
    conn.send(text)
    first = conn.reply()
    conn.send(text)
    second = conn.reply()
    assert first is not None and parse_ack(first).code == "AA"
    assert first == second
    assert last_journal(module_server).status == "duplicate"


def test_row23_duplicate_other_content(conn: Conn, module_server: object) -> None:
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


def test_row42_ack_is_never_acknowledged(conn: Conn, module_server: object) -> None:
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


def test_row45_database_outage(conn: Conn, module_server: object) -> None:
    """While the database is locked the hub answers AR 207, never AA; afterwards AA again."""
    path = module_server.db_url.removeprefix("sqlite:///")  # type: ignore[attr-defined]
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
