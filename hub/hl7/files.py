"""Files of HL7 v2 messages: where each message starts and ends."""

from __future__ import annotations

import re

_MSH_START = re.compile(rb"(?:^|(?<=[\r\n]))(?:\xef\xbb\xbf)?MSH")


def split_messages(data: bytes) -> list[bytes]:
    """The messages in a file: each starts with MSH at the start of a line."""
    starts = [m.start() for m in _MSH_START.finditer(data)]
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end].rstrip(b"\r\n \t")
        if chunk:
            out.append(chunk + (b"\r" if b"\r" in chunk else b"\n"))
    return out
