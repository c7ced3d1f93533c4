"""The sender of a frame that does not parse whole: its MSH segment, read on its own.

Authorization comes before any detail of what is wrong with a message: a sender that is not
allowed to link gets the bare refusal, whatever else its bytes hold.
"""

from __future__ import annotations

from .errors import HL7Error
from .header import Header, read_header
from .parser import parse

_BOM = b"\xef\xbb\xbf"


def peek_header(raw: bytes) -> Header | None:
    """The header of the first segment alone (as latin-1), or None when even that does not parse."""
    start = len(_BOM) if raw.startswith(_BOM) else 0
    ends = [pos for pos in (raw.find(b"\r", start), raw.find(b"\n", start)) if pos != -1]
    line = raw[start : min(ends) if ends else len(raw)].decode("latin-1")
    try:
        return read_header(parse(line + "\r"))
    except HL7Error:
        return None
