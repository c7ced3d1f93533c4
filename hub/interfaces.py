"""The seams between the parts: values that flow and the protocols they flow through.

`channels/` imports only this module: a transport turns bytes into an `Inbound`, hands it to
a `MessageHandler` and writes back the `Reply` the Deferred brings. The reply carries its ACK
code as a value: no transport reads MSA-1 back out of the ACK bytes.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from twisted.internet.defer import Deferred


@functools.lru_cache(maxsize=4096)
def peer_key(address: str) -> str:
    """The key per-peer limits and refusal buckets count under: the address, an IPv6 one by its /64.

    One IPv6 host commonly holds a whole /64; counting each address on its own would let it
    open connections and spend refusal tokens without limit.

    Cached: every frame's reply asks the refusal limiter about its peer, and parsing the address
    each time cost 4 µs a frame, a fifth of the receiver's own work. The cache is bounded, so a
    stream of new addresses evicts old ones instead of growing it.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Defect(StrEnum):
    """What the transport already knows is wrong with a frame, or with bytes that are none."""

    EMPTY = "empty"  # <VT><FS><CR> with nothing inside
    TRUNCATED = "truncated"  # a <VT> arrived before the frame's <FS>
    JUNK = "junk"  # bytes outside any frame; the connection is closed
    OVERSIZE = "oversize"  # the frame passed the channel's cap; the connection is closed
    SLOW = "slow"  # the frame did not end within the channel's frame timeout; the connection is closed
    TLS = "tls"  # the TLS handshake failed (untrusted or no certificate, old protocol); nothing is answered
    MALFORMED = "malformed"  # a request (SOAP) that could not be read; it got a Fault


@dataclass(frozen=True, slots=True)
class Inbound:
    """One frame (or one protocol failure) as the transport received it."""

    raw: bytes
    peer: str
    channel: str
    received_at: datetime
    tls_fingerprint: str = ""  # SHA-256 of the client certificate, "AB:CD:…", on TLS channels
    charset_hint: str = ""  # the transport's word on the charset (SOAP), used when MSH-18 is empty
    defect: Defect | None = None
    size: int = -1  # the full size when `raw` holds only the first bytes (oversize)
    note: str = ""  # the transport's PHI-free word on a defect (a TLS handshake's failure reason)


class Outcome(StrEnum):
    """What became of one attempt, as its sender sees it: an ACK code, or one of three answers."""

    AA = "AA"  # original mode: accepted and stored
    AE = "AE"  # original mode: content error
    AR = "AR"  # original mode: rejected (not processable here, link refused, repository down)
    CA = "CA"  # enhanced mode: commit accept
    CE = "CE"  # enhanced mode: commit error
    CR = "CR"  # enhanced mode: commit reject
    DUPLICATE = "duplicate"  # the same bytes again: the stored ACK is sent again
    FILTERED = "filtered"  # accepted (AA/CA), but every record fell under a channel exclusion
    IGNORED = "ignored"  # an ACK sent to the hub: journaled, never acknowledged

    @property
    def accepted(self) -> bool:
        """True for AA and CA: the message is safe in the repository."""
        return self in (Outcome.AA, Outcome.CA)


ACK_CODES = frozenset({Outcome.AA, Outcome.AE, Outcome.AR, Outcome.CA, Outcome.CE, Outcome.CR})


@dataclass(frozen=True, slots=True)
class Reply:
    """The engine's answer to one frame: the ACK to send and its MSA-1 code, as values."""

    outcome: Outcome
    ack: bytes  # the ACK bytes, encoded like the message they answer
    code: Outcome  # MSA-1 of `ack`: one of ACK_CODES (a duplicate's is the stored ACK's code)


class PeerGate(Protocol):
    """What a listener asks before it takes a connection."""

    def blocked(self, peer: str) -> bool:
        """True while this peer address is rate-limited for refused attempts."""


class MessageHandler(Protocol):
    """Channel -> engine. The Deferred fires with the reply, or None when nothing is to be sent."""

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Process one frame; never errbacks."""

    def blocked(self, peer: str) -> bool:
        """True while this peer address is rate-limited for refused attempts."""

    def accepting(self) -> bool:
        """False while the queue to the writer is full: transports stop reading until told."""

    def when_accepting(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the reactor thread) once the queue has room again."""


@dataclass(frozen=True, slots=True)
class DicomReply:
    """What became of one DICOM object submitted over a channel."""

    status: str  # accepted, duplicate, conflict, error, refused
    text: str  # for people, PHI-free
    study_uid: str = ""
    sop_instance_uid: str = ""


class DicomHandler(Protocol):
    """Channel -> engine for DICOM objects (the SOAP channel's second operation)."""

    def submit(self, data: bytes, peer: str, channel: str, tls_fingerprint: str) -> Deferred[DicomReply]:
        """Authorize, import and journal one object; never errbacks."""


@dataclass(frozen=True, slots=True)
class Consultation:
    """One HTTP request to a consultation (FHIR) channel, as the transport read it: nothing decided."""

    method: str  # GET, POST, ...
    path: str  # below the channel's base, e.g. "/Patient/12/$everything"
    query: tuple[tuple[str, str], ...]  # decoded parameters, in order, repeats kept
    authorization: str  # the Authorization header, as sent
    peer: str
    channel: str
    received_at: datetime
    tls_fingerprint: str = ""  # SHA-256 of the client certificate, "AB:CD:…", on TLS channels


@dataclass(frozen=True, slots=True)
class ConsultReply:
    """The engine's answer to one consultation: an HTTP status and a FHIR JSON body."""

    status: int
    body: bytes
    content_type: str = "application/fhir+json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class ConsultationHandler(Protocol):
    """Channel -> engine for consultations. The Deferred fires after the request's journal entry is committed."""

    def consult(self, request: Consultation) -> Deferred[ConsultReply]:
        """Authorize, read, journal and answer one request; never errbacks."""

    def blocked(self, peer: str) -> bool:
        """True while this peer address is rate-limited for refused attempts."""


class HealthHandler(Protocol):
    """Channel -> engine for the metrics channel: the exposition, and whether the hub is alive and ready."""

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""

    def alive(self) -> bool:
        """True while the writer thread runs."""

    def ready(self) -> Deferred[bool]:
        """Fires True when the database answered a query, False otherwise; never errbacks."""


@dataclass(frozen=True, slots=True)
class WebRequest:
    """One request to the console channel, as the transport read it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    form: tuple[tuple[str, str], ...]  # an urlencoded POST body, decoded
    cookies: tuple[tuple[str, str], ...]
    peer: str
    channel: str
    secure: bool  # over TLS: cookies get Secure
    received_at: datetime


@dataclass(frozen=True, slots=True)
class WebReply:
    """A console page or redirect: status, body, and headers (Location, Set-Cookie…)."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class ConsoleHandler(Protocol):
    """Channel -> console. The Deferred fires with the page; never errbacks."""

    def page(self, request: WebRequest) -> Deferred[WebReply]:
        """Answer one request (any journal entry it needs is committed first)."""

    def blocked(self, peer: str) -> bool:
        """True while this peer address is rate-limited for refused attempts."""
