"""``/hl7`` on twisted.web: the two operations over POST, the WSDL over GET.

The body is capped while it arrives (`CappedRequest`); every refusal is a SOAP Fault:
Client/Sender for what the caller sent, Server/Receiver for what failed here. Every refused
attempt but a rate-limited one is journaled through the handler before its Fault is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import Resource

from hub.interfaces import Defect, DicomHandler, Inbound, MessageHandler, Reply

from .envelope import (
    CONTENT_TYPES,
    SOAP11,
    SOAP12,
    FaultError,
    ack_element,
    base64_child,
    child,
    dicom_element,
    er7_bytes,
    fault_envelope,
    read_envelope,
    response_envelope,
)
from .wsdl import render_wsdl

log = structlog.get_logger("passerelle.soap")


@dataclass(frozen=True, slots=True)
class SoapLimits:
    """What a SOAP channel accepts."""

    max_body_bytes: int
    dicom: bool  # whether SubmitDICOM is served (imaging channels)


class CappedRequest(server.Request):
    """A request whose body stops being kept past the channel's cap (memory stays bounded)."""

    max_body_bytes = 1_048_576

    def gotLength(self, length: int | None) -> None:
        """Note an announced length over the cap; keep nothing of such a body."""
        self.body_size = 0
        self.too_big = length is not None and length > self.max_body_bytes
        super().gotLength(None if self.too_big else length)  # type: ignore[no-untyped-call]

    def handleContentChunk(self, data: bytes) -> None:
        """Keep a chunk while the body is within the cap."""
        self.body_size += len(data)
        if self.body_size > self.max_body_bytes:
            self.too_big = True
        if not self.too_big:
            super().handleContentChunk(data)  # type: ignore[no-untyped-call]


def capped_request_factory(limit: int) -> type[CappedRequest]:
    """A CappedRequest class with this cap (twisted.web builds requests from a class)."""
    return type("CappedRequestWithLimit", (CappedRequest,), {"max_body_bytes": limit})


class SOAPResource(Resource):
    """``/hl7``: the two operations over POST, the WSDL (rendered once, for `location`) over GET."""

    isLeaf = True  # noqa: N815 - the name twisted.web reads

    def __init__(
        self, channel: str, handler: MessageHandler, dicom: DicomHandler | None, limits: SoapLimits, location: str
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.channel = channel
        self.handler = handler
        self.dicom = dicom
        self.limits = limits
        self.wsdl = render_wsdl(location, dicom=limits.dicom)

    # -- GET ?wsdl ---------------------------------------------------------------------------
    def render_GET(self, request: Any) -> bytes:
        """The WSDL; its service address is the configured one, whatever the request's Host says."""
        query = (request.uri or b"").partition(b"?")[2].lower()
        if query != b"wsdl":
            request.setResponseCode(http.NOT_FOUND)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"GET /hl7?wsdl for the service description; POST SOAP envelopes to /hl7\n"
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        return self.wsdl

    # -- POST --------------------------------------------------------------------------------
    def render_POST(self, request: Any) -> Any:
        """Parse the envelope, run the operation, answer when the engine has answered."""
        version = SOAP12 if b"application/soap+xml" in (request.getHeader(b"content-type") or b"") else SOAP11
        try:
            operation, op = self._operation(request, version)
            d = self._run(operation, op, request)
        except FaultError as fault:
            if fault.status == 429:  # a rate-limited peer: not journaled again, as MLLP closes
                return self._fault(request, version, fault)
            # Every attempt is journaled: the refused body (capped) first, then the Fault.
            refused = fault  # the except clause unbinds `fault` when it ends; the callback runs later
            self._journal_refusal(request, refused).addBoth(lambda _: self._send_fault(request, version, refused))
            return server.NOT_DONE_YET
        d.addCallback(lambda element: self._reply(request, version, element))
        d.addErrback(lambda failure: self._failed(request, version, failure))
        return server.NOT_DONE_YET

    def _operation(self, request: Any, version: str) -> tuple[str, Any]:
        ctype = (request.getHeader(b"content-type") or b"").lower()
        if b"xml" not in ctype:
            raise FaultError(True, "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)", 415)
        if getattr(request, "too_big", False):
            limit = self.limits.max_body_bytes
            raise FaultError(True, f"body over the channel's cap of {limit} bytes", http.REQUEST_ENTITY_TOO_LARGE)
        assert request.content is not None
        return read_envelope(request.content.read(), version)

    def _run(self, operation: str, op: Any, request: Any) -> Deferred[Any]:
        host = getattr(request.getClientAddress(), "host", "")
        fingerprint = request_fingerprint(request)
        if self.handler.blocked(host):  # both operations: a blocked peer is not served, nor journaled again
            raise FaultError(True, "too many refused attempts from this address; try later", 429)
        if operation == "SubmitDICOM":
            if self.dicom is None or not self.limits.dicom:
                raise FaultError(True, "DICOM objects are taken by imaging channels only")
            data = base64_child(op, "object", required=True) or b""
            return self.dicom.submit(data, host, self.channel, fingerprint).addCallback(dicom_element)
        text = child(op, "message")
        encoded = base64_child(op, "messageBase64", required=False)
        if (text is None) == (encoded is None):
            raise FaultError(True, "give exactly one of message (ER7 text) or messageBase64")
        inbound = Inbound(
            raw=encoded if encoded is not None else er7_bytes(text or ""),
            peer=host,
            channel=self.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=fingerprint,
            charset_hint=(child(op, "charset") or "").strip(),
        )
        return self.handler.handle(inbound).addCallback(ack_element)

    # -- answers -----------------------------------------------------------------------------
    def _reply(self, request: Any, version: str, element: Any) -> None:
        if request.finished or request._disconnected:
            return  # the caller left: the message is committed and its ACK is stored
        data = response_envelope(version, element)
        request.setHeader(b"content-type", CONTENT_TYPES[version])
        request.setHeader(b"content-length", str(len(data)).encode("ascii"))  # not chunked: one write
        request.write(data)
        request.finish()

    def _failed(self, request: Any, version: str, failure: Failure) -> None:
        if isinstance(failure.value, FaultError):
            fault = failure.value
        else:
            log.error("soap_failed", error=failure.type.__name__ if failure.type else "", channel=self.channel)
            fault = FaultError(False, "internal error")
        self._send_fault(request, version, fault)

    def _journal_refusal(self, request: Any, fault: FaultError) -> Deferred[Reply | None]:
        too_big = getattr(request, "too_big", False)
        data = b""
        if not too_big and request.content is not None:
            request.content.seek(0)
            data = request.content.read()
        inbound = Inbound(
            raw=data,
            peer=getattr(request.getClientAddress(), "host", ""),
            channel=self.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=request_fingerprint(request),
            defect=Defect.OVERSIZE if too_big else Defect.MALFORMED,
            size=getattr(request, "body_size", len(data)),
        )
        return self.handler.handle(inbound)

    def _send_fault(self, request: Any, version: str, fault: FaultError) -> None:
        if request.finished or request._disconnected:
            return
        request.write(self._fault(request, version, fault))
        request.finish()

    def _fault(self, request: Any, version: str, fault: FaultError) -> bytes:
        status = fault.status or (http.BAD_REQUEST if fault.client and version == SOAP12 else 500)
        request.setResponseCode(status)
        request.setHeader(b"content-type", CONTENT_TYPES[version])
        log.info("soap_fault", channel=self.channel, client=fault.client, status=status, reason=fault.text)
        data = fault_envelope(version, client=fault.client, text=fault.text)
        request.setHeader(b"content-length", str(len(data)).encode("ascii"))
        return data


def request_fingerprint(request: Any) -> str:
    """The SHA-256 fingerprint ("AB:CD:…") of an HTTP request's TLS client certificate, or ""."""
    transport = getattr(request.channel, "transport", None)
    get = getattr(transport, "getPeerCertificate", None)
    cert = get() if get is not None else None
    return cert.digest("sha256").decode("ascii") if cert is not None else ""


def site(
    root_channel: str,
    handler: MessageHandler,
    dicom: DicomHandler | None,
    limits: SoapLimits,
    timeout: float,
    *,
    location: str,
) -> Any:
    """The twisted.web Site for one SOAP channel: ``/hl7`` and nothing else.

    Args:
        root_channel: the channel's name, as inbound messages carry it.
        handler: the engine, for SubmitHL7 (and for journaling refused requests).
        dicom: the engine's DICOM side, for SubmitDICOM on imaging channels.
        limits: the body cap, and whether SubmitDICOM is served.
        timeout: idle seconds before twisted.web closes a connection.
        location: the service address the WSDL publishes (``hub.config.soap_location``), an
            absolute http(s) URL; it never comes from a request.

    Raises:
        ValueError: `location` is not an absolute http or https URL.
    """
    if not location.startswith(("http://", "https://")):
        raise ValueError(f"SOAP channel {root_channel}: location must be an http(s) URL, not {location!r}")
    web: Any = server  # twisted.web has no type hints
    root: Any = Resource()  # type: ignore[no-untyped-call]
    root.putChild(b"hl7", SOAPResource(root_channel, handler, dicom, limits, location))
    factory = web.Site(root, timeout=timeout)
    factory.requestFactory = capped_request_factory(limits.max_body_bytes)
    factory.displayTracebacks = False
    return factory
