"""The `send` client: split files into messages and push them over MLLP, one at a time."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.hl7 import HL7Error, decode, parse
from hub.hl7.files import split_messages

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


@dataclass(frozen=True, slots=True)
class Ack:
    """What came back for one message."""

    code: str  # MSA-1
    control_id: str  # MSA-2
    errors: list[str]  # ERR segments as text
    raw: bytes


def is_response(message: bytes) -> bool:
    """True for an ACK or any message holding an MSA segment (the hub answers none)."""
    return (
        re.search(rb"(?:^|[\r\n])MSA.", message) is not None
        or re.match(rb"(?:\xef\xbb\xbf)?MSH.{5}(?:[^\r\n]*?\|){6}ACK", message) is not None
    )


def parse_ack(raw: bytes) -> Ack:
    """MSA-1, MSA-2 and the ERR segments of an ACK received from a hub, read with the ER7 parser.

    The ACK comes off the wire: the sender has nothing but its bytes. Bytes that do not parse
    as HL7 (or hold no MSA) give an empty code, which `send` reports as a failure.
    """
    try:
        msg = parse(decode(raw, "utf-8").text)
    except HL7Error:
        return Ack("", "", [], raw)
    msa = msg.first("MSA")
    errors = [msg.d.field.join(seg.fields) for seg in msg.all("ERR")]
    if msa is None:
        return Ack("", "", errors, raw)
    return Ack(msa.value(1), msa.value(2), errors, raw)


class MLLPClient:
    """A blocking MLLP client: one message out, one ACK back, on one long-lived connection."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()

    def send(self, message: bytes) -> bytes:
        """Send one framed message and wait for its framed reply."""
        self.send_only(message)
        return self.receive()

    def send_only(self, message: bytes) -> None:
        """Send one framed message without waiting for a reply."""
        self.sock.sendall(VT + message + FS + CR)

    def receive(self) -> bytes:
        """The next framed reply."""
        while True:
            end = self._buf.find(FS + CR)
            if end != -1:
                block, self._buf = self._buf[:end], self._buf[end + 2 :]
                return block[block.find(VT) + 1 :]
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the hub before the ACK")
            self._buf += chunk


def iter_files(paths: list[Path]) -> Iterator[tuple[str, int, bytes]]:
    """(file name, index, message bytes) for every message of every file."""
    for path in paths:
        for n, msg in enumerate(split_messages(path.read_bytes()), start=1):
            yield str(path), n, msg
