"""The SOAP channel: the same engine behind a document/literal web service, on twisted.web.

``POST /hl7`` takes a SOAP 1.1 (``text/xml``) or SOAP 1.2 (``application/soap+xml``) envelope
whose body is one of two operations, and ``GET /hl7?wsdl`` serves the WSDL that describes them:

- ``SubmitHL7``: an HL7 v2 message as ER7 text (``message``) or as bytes in base64
  (``messageBase64``, with an optional ``charset`` used when MSH-18 is empty). The answer holds
  the hub's ACK, exactly as MLLP would send it, once the message is committed.
- ``SubmitDICOM``: a DICOM Part 10 object in base64 (``object``), for an imaging channel.

Hostile XML never reaches a parser that could hurt: the body is capped while it arrives, any
DOCTYPE is refused before parsing, and the lxml parser resolves no entities, loads no DTD,
uses no network and keeps libxml2's size limits (no ``huge_tree``). Every refusal is a SOAP
Fault: Client/Sender for what the caller sent, Server/Receiver for what failed here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from lxml import etree
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import Resource

from hub.interfaces import Defect, DicomHandler, DicomReply, Inbound, MessageHandler

log = structlog.get_logger("passerelle.soap")

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:passerelle:hl7:v1"
_CONTENT_TYPES = {SOAP11: b"text/xml; charset=utf-8", SOAP12: b"application/soap+xml; charset=utf-8"}


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entity, loads no DTD, uses no network, and has no huge_tree."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_pis=True,
    )


@dataclass(frozen=True, slots=True)
class SoapLimits:
    """What a SOAP channel accepts."""

    max_body_bytes: int
    dicom: bool  # whether SubmitDICOM is served (imaging channels)


class FaultError(Exception):
    """A SOAP Fault to answer: who is at fault (client or server), and a short text."""

    def __init__(self, client: bool, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.client = client
        self.text = text
        self.status = status


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
    """``/hl7``: the two operations over POST, the WSDL over GET."""

    isLeaf = True  # noqa: N815 - the name twisted.web reads

    def __init__(self, channel: str, handler: MessageHandler, dicom: DicomHandler | None, limits: SoapLimits) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.channel = channel
        self.handler = handler
        self.dicom = dicom
        self.limits = limits

    # -- GET ?wsdl ---------------------------------------------------------------------------
    def render_GET(self, request: Any) -> bytes:
        """The WSDL, with this server's address as the service location."""
        query = (request.uri or b"").partition(b"?")[2].lower()
        if query != b"wsdl":
            request.setResponseCode(http.NOT_FOUND)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"GET /hl7?wsdl for the service description; POST SOAP envelopes to /hl7\n"
        host = request.getRequestHostname().decode("ascii", "replace")
        port = request.getHost().port
        scheme = "https" if request.isSecure() else "http"
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        return wsdl(f"{scheme}://{host}:{port}/hl7", dicom=self.limits.dicom).encode("utf-8")

    # -- POST --------------------------------------------------------------------------------
    def render_POST(self, request: Any) -> Any:
        """Parse the envelope, run the operation, answer when the engine has answered."""
        version = SOAP12 if b"application/soap+xml" in (request.getHeader(b"content-type") or b"") else SOAP11
        try:
            operation, body = self._operation(request, version)
            d = self._run(operation, body, request)
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
        data = request.content.read()
        if b"<!doctype" in data[:4096].lower() or b"<!DOCTYPE" in data:
            raise FaultError(True, "DOCTYPE is not allowed")
        try:
            root = etree.fromstring(data, hardened_parser())
        except etree.XMLSyntaxError:
            raise FaultError(True, "malformed XML") from None
        docinfo: Any = root.getroottree().docinfo
        if docinfo.doctype:
            raise FaultError(True, "DOCTYPE is not allowed")
        if root.tag != f"{{{version}}}Envelope":
            raise FaultError(True, "not a SOAP envelope of the version its Content-Type names")
        body = root.find(f"{{{version}}}Body")
        children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
        if len(children) != 1:
            raise FaultError(True, "the SOAP Body must hold exactly one operation")
        op = children[0]
        name = etree.QName(op).localname
        if etree.QName(op).namespace != NS or name not in ("SubmitHL7", "SubmitDICOM"):
            raise FaultError(True, f"unknown operation {name!r}")
        return name, op

    def _run(self, operation: str, op: Any, request: Any) -> Deferred[Any]:
        peer = request.getClientAddress()
        host = getattr(peer, "host", "")
        fingerprint = _fingerprint(request)
        if operation == "SubmitDICOM":
            if self.dicom is None or not self.limits.dicom:
                raise FaultError(True, "DICOM objects are taken by imaging channels only")
            data = _base64(op, "object", required=True) or b""
            return self.dicom.submit(data, host, self.channel, fingerprint).addCallback(_dicom_element)
        if self.handler.blocked(host):
            raise FaultError(True, "too many refused attempts from this address; try later", 429)
        text = _child(op, "message")
        encoded = _base64(op, "messageBase64", required=False)
        charset = _child(op, "charset") or ""
        if (text is None) == (encoded is None):
            raise FaultError(True, "give exactly one of message (ER7 text) or messageBase64")
        raw = encoded if encoded is not None else _er7_bytes(text or "")
        inbound = Inbound(
            raw=raw,
            peer=host,
            channel=self.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=fingerprint,
            charset_hint=charset.strip(),
        )
        return self.handler.handle(inbound).addCallback(_ack_element)

    # -- answers -----------------------------------------------------------------------------
    def _reply(self, request: Any, version: str, element: Any) -> None:
        if request.finished or request._disconnected:
            return  # the caller left: the message is committed and its ACK is stored
        envelope = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "p": NS})
        etree.SubElement(envelope, f"{{{version}}}Body").append(element)
        data = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        request.setHeader(b"content-type", _CONTENT_TYPES[version])
        request.setHeader(b"content-length", str(len(data)).encode("ascii"))  # not chunked: one write
        request.write(data)
        request.finish()

    def _failed(self, request: Any, version: str, failure: Failure) -> None:
        if isinstance(failure.value, FaultError):
            fault = failure.value
        else:
            log.error("soap_failed", error=failure.type.__name__ if failure.type else "", channel=self.channel)
            fault = FaultError(False, "internal error")
        if request.finished or request._disconnected:
            return
        request.write(self._fault(request, version, fault))
        request.finish()

    def _journal_refusal(self, request: Any, fault: FaultError) -> Deferred[bytes | None]:
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
            tls_fingerprint=_fingerprint(request),
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
        request.setHeader(b"content-type", _CONTENT_TYPES[version])
        log.info("soap_fault", channel=self.channel, client=fault.client, status=status, reason=fault.text)
        data = fault_envelope(version, client=fault.client, text=fault.text)
        request.setHeader(b"content-length", str(len(data)).encode("ascii"))
        return data


def fault_envelope(version: str, *, client: bool, text: str) -> bytes:
    """A SOAP 1.1 or 1.2 Fault envelope."""
    env = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version})
    body = etree.SubElement(env, f"{{{version}}}Body")
    fault = etree.SubElement(body, f"{{{version}}}Fault")
    if version == SOAP11:
        etree.SubElement(fault, "faultcode").text = "soap:Client" if client else "soap:Server"
        etree.SubElement(fault, "faultstring").text = text
    else:
        code = etree.SubElement(fault, f"{{{version}}}Code")
        etree.SubElement(code, f"{{{version}}}Value").text = "soap:Sender" if client else "soap:Receiver"
        reason = etree.SubElement(fault, f"{{{version}}}Reason")
        node = etree.SubElement(reason, f"{{{version}}}Text")
        node.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        node.text = text
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def _child(op: Any, name: str) -> str | None:
    node = op.find(f"{{{NS}}}{name}")
    return None if node is None else (node.text or "")


def _base64(op: Any, name: str, *, required: bool) -> bytes | None:
    text = _child(op, name)
    if text is None:
        if required:
            raise FaultError(True, f"{name} is required")
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FaultError(True, f"{name} is not valid base64") from None


def _er7_bytes(text: str) -> bytes:
    """ER7 text from XML as bytes for the engine, in the charset its MSH-18 names.

    XML carries Unicode; the engine reads bytes and MSH-18. UTF-8 suits every label but the
    single-byte ones, which get their own encoding so that MSH-18 stays true.
    """
    label = _msh18(text).upper()
    codec = {"8859/1": "latin-1", "8859/15": "iso8859-15", "ASCII": "ascii"}.get(label, "utf-8")
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        raise FaultError(True, f"the message text holds characters MSH-18 {label} can't encode") from None


def _msh18(text: str) -> str:
    if not text.startswith("MSH") or len(text) < 8:
        return ""
    fs = text[3]
    first = text.split("\r", 1)[0].split("\n", 1)[0]
    fields = first.split(fs)
    value = fields[17] if len(fields) > 17 else ""
    return value.split(text[5] if len(text) > 5 else "~", 1)[0].strip()


def _fingerprint(request: Any) -> str:
    transport = getattr(request.channel, "transport", None)
    get = getattr(transport, "getPeerCertificate", None)
    cert = get() if get is not None else None
    return cert.digest("sha256").decode("ascii") if cert is not None else ""


def _ack_element(ack: bytes | None) -> Any:
    if ack is None:
        raise FaultError(True, "acknowledgements are never acknowledged")
    response = etree.Element(f"{{{NS}}}SubmitHL7Response", nsmap={"p": NS})
    etree.SubElement(response, f"{{{NS}}}ack").text = _ack_text(ack)
    etree.SubElement(response, f"{{{NS}}}ackBase64").text = base64.b64encode(ack).decode("ascii")
    etree.SubElement(response, f"{{{NS}}}ackCode").text = _msa1(ack)
    return response


def _ack_text(ack: bytes) -> str:
    """The ACK as text: it is encoded like the message it answers (UTF-8, else a single-byte set)."""
    try:
        return ack.decode("utf-8")
    except UnicodeDecodeError:
        return ack.decode("latin-1")


def _msa1(ack: bytes) -> str:
    pos = ack.find(b"\rMSA")
    return ack[pos + 5 : pos + 7].decode("ascii", "replace") if pos != -1 else ""


def _dicom_element(reply: DicomReply) -> Any:
    response = etree.Element(f"{{{NS}}}SubmitDICOMResponse", nsmap={"p": NS})
    etree.SubElement(response, f"{{{NS}}}status").text = reply.status
    etree.SubElement(response, f"{{{NS}}}text").text = reply.text
    etree.SubElement(response, f"{{{NS}}}studyInstanceUID").text = reply.study_uid
    etree.SubElement(response, f"{{{NS}}}sopInstanceUID").text = reply.sop_instance_uid
    return response


def site(
    root_channel: str, handler: MessageHandler, dicom: DicomHandler | None, limits: SoapLimits, timeout: float
) -> Any:
    """The twisted.web Site for one SOAP channel: ``/hl7`` and nothing else."""
    web: Any = server  # twisted.web has no type hints
    root: Any = Resource()  # type: ignore[no-untyped-call]
    root.putChild(b"hl7", SOAPResource(root_channel, handler, dicom, limits))
    factory = web.Site(root, timeout=timeout)
    factory.requestFactory = capped_request_factory(limits.max_body_bytes)
    factory.displayTracebacks = False
    return factory


def wsdl(location: str, *, dicom: bool) -> str:
    """The service description: document/literal, SOAP 1.1 and 1.2 bindings at `location`."""
    dicom_types = (
        """
      <xs:element name="SubmitDICOM">
        <xs:complexType><xs:sequence>
          <xs:element name="object" type="xs:base64Binary"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="SubmitDICOMResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="status" type="xs:string"/>
          <xs:element name="text" type="xs:string"/>
          <xs:element name="studyInstanceUID" type="xs:string"/>
          <xs:element name="sopInstanceUID" type="xs:string"/>
        </xs:sequence></xs:complexType>
      </xs:element>"""
        if dicom
        else ""
    )
    dicom_messages = (
        """
  <wsdl:message name="SubmitDICOMIn"><wsdl:part name="parameters" element="p:SubmitDICOM"/></wsdl:message>
  <wsdl:message name="SubmitDICOMOut"><wsdl:part name="parameters" element="p:SubmitDICOMResponse"/></wsdl:message>"""
        if dicom
        else ""
    )
    dicom_op = (
        """
    <wsdl:operation name="SubmitDICOM">
      <wsdl:input message="p:SubmitDICOMIn"/><wsdl:output message="p:SubmitDICOMOut"/>
    </wsdl:operation>"""
        if dicom
        else ""
    )

    def binding(name: str, prefix: str) -> str:
        ops = ["SubmitHL7", *(["SubmitDICOM"] if dicom else [])]
        body = "".join(
            f"""
    <wsdl:operation name="{op}">
      <{prefix}:operation soapAction="{NS}#{op}" style="document"/>
      <wsdl:input><{prefix}:body use="literal"/></wsdl:input>
      <wsdl:output><{prefix}:body use="literal"/></wsdl:output>
    </wsdl:operation>"""
            for op in ops
        )
        return f"""
  <wsdl:binding name="{name}" type="p:HL7PortType">
    <{prefix}:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>{body}
  </wsdl:binding>"""

    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:p="{NS}" targetNamespace="{NS}" name="Passerelle">
  <wsdl:documentation>Passerelle HL7 v2 hub: submit an HL7 v2 message, get its ACK.</wsdl:documentation>
  <wsdl:types>
    <xs:schema targetNamespace="{NS}" elementFormDefault="qualified">
      <xs:element name="SubmitHL7">
        <xs:complexType><xs:sequence>
          <xs:element name="message" type="xs:string" minOccurs="0"/>
          <xs:element name="messageBase64" type="xs:base64Binary" minOccurs="0"/>
          <xs:element name="charset" type="xs:string" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="SubmitHL7Response">
        <xs:complexType><xs:sequence>
          <xs:element name="ack" type="xs:string"/>
          <xs:element name="ackBase64" type="xs:base64Binary"/>
          <xs:element name="ackCode" type="xs:string"/>
        </xs:sequence></xs:complexType>
      </xs:element>{dicom_types}
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="SubmitHL7In"><wsdl:part name="parameters" element="p:SubmitHL7"/></wsdl:message>
  <wsdl:message name="SubmitHL7Out">
    <wsdl:part name="parameters" element="p:SubmitHL7Response"/>
  </wsdl:message>{dicom_messages}
  <wsdl:portType name="HL7PortType">
    <wsdl:operation name="SubmitHL7">
      <wsdl:input message="p:SubmitHL7In"/><wsdl:output message="p:SubmitHL7Out"/>
    </wsdl:operation>{dicom_op}
  </wsdl:portType>{binding("HL7Soap11", "soap")}{binding("HL7Soap12", "soap12")}
  <wsdl:service name="Passerelle">
    <wsdl:port name="HL7Soap11" binding="p:HL7Soap11"><soap:address location="{location}"/></wsdl:port>
    <wsdl:port name="HL7Soap12" binding="p:HL7Soap12"><soap12:address location="{location}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""
