"""A raw socket to a real hub, for the bad-input rows of ../shared/reference/bad-inputs.md.

`Conn` sends any bytes and reads framed replies; `oru` is a valid lab result with its own
control ID per call (unique in the whole run, so the tests of one server never collide).
"""

from __future__ import annotations

import socket

from servers import Server
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

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


def last_journal(module_server: Server) -> JournalEntry:
    """The newest journal entry of the module's server."""
    engine = create_engine(module_server.db_url)
    with Session(engine) as session:
        entry = session.scalars(select(JournalEntry).order_by(JournalEntry.id.desc()).limit(1)).one()
    engine.dispose()
    return entry


def err(ack: Ack, index: int = 0) -> tuple[str, str]:
    """(ERR-2, ERR-3 code) of one ERR segment."""
    fields = ack.errors[index].split("|")
    return fields[2], fields[3].split("^")[0]
