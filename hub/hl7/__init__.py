"""The HL7 v2 foundation: parsed-message model, ER7 parser, charsets, escapes, ACKs, errors.

Imports nothing else from the project.
"""

from .ack import ack_code, build_ack
from .charsets import Decoded, decode
from .delimiters import Delimiters
from .errors import Code, ContentError, DuplicateError, HL7Error, Issue, Location, RejectError
from .escape import escape, unescape
from .header import KNOWN_VERSIONS, Header, read_header
from .message import Message, Segment
from .parser import parse

__all__ = [
    "KNOWN_VERSIONS",
    "Code",
    "ContentError",
    "Decoded",
    "Delimiters",
    "DuplicateError",
    "HL7Error",
    "Header",
    "Issue",
    "Location",
    "Message",
    "RejectError",
    "Segment",
    "ack_code",
    "build_ack",
    "decode",
    "escape",
    "parse",
    "read_header",
    "unescape",
]
