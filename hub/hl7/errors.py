"""The error tree every pipeline step raises from, and the values an ERR segment is built from.

Each error carries what the ACK needs: the acknowledgment code, one or more `Issue` values
(ERR-2 location, ERR-3 HL7 table 0357 code, ERR-4 severity, ERR-8 text). The tree::

    HL7Error                      any problem the sender must hear about
     ├── RejectError     (AR)     the message can't be handled here: MSH-9/11/12, charset,
     │                            batch, no MSH, bad encoding characters, service outage
     └── ContentError    (AE)     the content is wrong: fix it and resend
          └── DuplicateError      same (MSH-3, MSH-4, MSH-10) with other bytes (ERR-3 205)

Texts are short, bilingual ("fr / en") and never contain patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Code(IntEnum):
    """HL7 table 0357, message error condition codes."""

    ACCEPTED = 0
    SEGMENT_SEQUENCE = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE = 102
    TABLE_VALUE_NOT_FOUND = 103
    VALUE_TOO_LONG = 104
    CARDINALITY = 198
    OTHER = 199
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT = 201
    UNSUPPORTED_PROCESSING_ID = 202
    UNSUPPORTED_VERSION = 203
    UNKNOWN_KEY = 204
    DUPLICATE_KEY = 205
    RECORD_LOCKED = 206
    INTERNAL_ERROR = 207


CODE_TEXT = {
    Code.ACCEPTED: "Message accepted",
    Code.SEGMENT_SEQUENCE: "Segment sequence error",
    Code.REQUIRED_FIELD_MISSING: "Required field missing",
    Code.DATA_TYPE: "Data type error",
    Code.TABLE_VALUE_NOT_FOUND: "Table value not found",
    Code.VALUE_TOO_LONG: "Value too long",
    Code.CARDINALITY: "Non-conformant cardinality",
    Code.OTHER: "Other error",
    Code.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    Code.UNSUPPORTED_EVENT: "Unsupported event code",
    Code.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    Code.UNSUPPORTED_VERSION: "Unsupported version id",
    Code.UNKNOWN_KEY: "Unknown key identifier",
    Code.DUPLICATE_KEY: "Duplicate key identifier",
    Code.RECORD_LOCKED: "Application record locked",
    Code.INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Location:
    """ERR-2 error location: segment ID ^ sequence ^ field ^ repetition ^ component ^ sub."""

    segment: str = ""
    sequence: int | None = None
    field: int | None = None
    repetition: int | None = None
    component: int | None = None
    subcomponent: int | None = None

    def parts(self) -> list[str]:
        """The six ERL components as text, trailing empties included."""
        nums = (self.sequence, self.field, self.repetition, self.component, self.subcomponent)
        return [self.segment, *("" if n is None else str(n) for n in nums)]

    def __str__(self) -> str:
        return "^".join(self.parts()).rstrip("^")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, one ERR segment."""

    code: Code
    location: Location
    text_fr: str
    text_en: str
    severity: str = "E"  # ERR-4, HL7 table 0516: E error, W warning, I information
    rule: str = ""

    @property
    def text(self) -> str:
        """ERR-8 user message, French then English."""
        return f"{self.text_fr} / {self.text_en}"


def warning(code: Code, location: Location, fr: str, en: str, rule: str = "") -> Issue:
    """Build a severity-W issue (the message is still accepted)."""
    return Issue(code, location, fr, en, "W", rule)


class HL7Error(Exception):
    """Base of the tree: a problem answered with a negative ACK."""

    ack_code = "AE"

    def __init__(self, *issues: Issue) -> None:
        super().__init__("; ".join(f"{i.code.value} {i.location} {i.text_en}" for i in issues))
        self.issues: tuple[Issue, ...] = issues

    @classmethod
    def at(cls, code: Code, location: Location, fr: str, en: str, rule: str = "") -> HL7Error:
        """Build the error from a single issue."""
        return cls(Issue(code, location, fr, en, "E", rule))


class RejectError(HL7Error):
    """AR: the message can't be processed here (header, charset, batch, outage)."""

    ack_code = "AR"


class ContentError(HL7Error):
    """AE: the content is wrong; the sender should correct it and resend."""

    ack_code = "AE"


class DuplicateError(ContentError):
    """AE 205: the control ID was already used by a message with other bytes."""
