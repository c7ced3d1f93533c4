"""The MSH header as plain values: who sent it, what it is, how to answer it."""

from __future__ import annotations

from dataclasses import dataclass

from .delimiters import Delimiters
from .message import Message

# HL7 v2 versions known to the reference model (hl7apy covers 2.1 to 2.8.2).
KNOWN_VERSIONS = frozenset(
    {"2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}
)


@dataclass(frozen=True, slots=True, init=False)
class Header:
    """What the engine and the ACK builder need from MSH, raw fields kept for echoing.

    Its own ``__init__``: the one `dataclass` generates stays interpreted even in this compiled
    module (about 1.45 µs a header in a probe, against 0.21 for this one). It takes the fields by
    keyword only, the way `read_header` and the tests build one.
    """

    d: Delimiters
    sending_application: str  # MSH-3, raw
    sending_facility: str  # MSH-4, raw
    receiving_application: str  # MSH-5, raw
    receiving_facility: str  # MSH-6, raw
    timestamp: str  # MSH-7
    message_code: str  # MSH-9.1
    trigger_event: str  # MSH-9.2
    structure: str  # MSH-9.3
    control_id: str  # MSH-10, raw
    processing_id: str  # MSH-11.1
    version: str  # MSH-12.1
    accept_ack: str  # MSH-15
    application_ack: str  # MSH-16
    charset: str  # MSH-18 first repetition, raw

    def __init__(
        self,
        *,
        d: Delimiters,
        sending_application: str,
        sending_facility: str,
        receiving_application: str,
        receiving_facility: str,
        timestamp: str,
        message_code: str,
        trigger_event: str,
        structure: str,
        control_id: str,
        processing_id: str,
        version: str,
        accept_ack: str,
        application_ack: str,
        charset: str,
    ) -> None:
        # Frozen: every field once, through object.__setattr__, as the generated one does.
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "sending_application", sending_application)
        object.__setattr__(self, "sending_facility", sending_facility)
        object.__setattr__(self, "receiving_application", receiving_application)
        object.__setattr__(self, "receiving_facility", receiving_facility)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "message_code", message_code)
        object.__setattr__(self, "trigger_event", trigger_event)
        object.__setattr__(self, "structure", structure)
        object.__setattr__(self, "control_id", control_id)
        object.__setattr__(self, "processing_id", processing_id)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "accept_ack", accept_ack)
        object.__setattr__(self, "application_ack", application_ack)
        object.__setattr__(self, "charset", charset)

    @property
    def message_type(self) -> str:
        """``CODE^EVENT`` as used for routing and listing."""
        return f"{self.message_code}^{self.trigger_event}" if self.trigger_event else self.message_code

    @property
    def enhanced(self) -> bool:
        """Enhanced acknowledgment mode: MSH-15 or MSH-16 valued."""
        return bool(self.accept_ack or self.application_ack)

    @property
    def sender(self) -> str:
        """MSH-3 and MSH-4 first components, for logs and listings."""
        c = self.d.component
        return f"{self.sending_application.split(c)[0]}/{self.sending_facility.split(c)[0]}"


def read_header(msg: Message) -> Header:
    """Extract the header of a parsed message (no validation: the pipeline decides)."""
    msh = msg.msh
    return Header(
        d=msg.d,
        sending_application=msh.raw(3),
        sending_facility=msh.raw(4),
        receiving_application=msh.raw(5),
        receiving_facility=msh.raw(6),
        timestamp=msh.value(7),
        message_code=msh.value(9, 1),
        trigger_event=msh.value(9, 2),
        structure=msh.value(9, 3),
        control_id=msh.raw(10),
        processing_id=msh.value(11, 1),
        version=msh.value(12, 1),
        accept_ack=msh.value(15),
        application_ack=msh.value(16),
        charset=msh.value(18),
    )
