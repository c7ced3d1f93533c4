"""SOAP envelopes in and out: hardened parsing, the operation a request names, Faults, answers.

Nothing here knows HTTP. Hostile XML never reaches a parser that could hurt: any DOCTYPE is
refused before parsing, and the lxml parser resolves no entities, loads no DTD, uses no
network and keeps libxml2's size limits (no ``huge_tree``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from lxml import etree

from hub.interfaces import DicomReply, Outcome, Reply

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:passerelle:hl7:v1"
OPERATIONS = ("SubmitHL7", "SubmitDICOM")
CONTENT_TYPES = {SOAP11: b"text/xml; charset=utf-8", SOAP12: b"application/soap+xml; charset=utf-8"}


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


class FaultError(Exception):
    """A SOAP Fault to answer: who is at fault (client or server), and a short text."""

    def __init__(self, client: bool, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.client = client
        self.text = text
        self.status = status


def read_envelope(data: bytes, version: str) -> tuple[str, Any]:
    """The operation a SOAP `version` envelope holds: (its name, its element).

    Raises:
        FaultError: a client fault for a DOCTYPE, malformed XML, an envelope of the other SOAP
            version, a Body that does not hold exactly one element, or an unknown operation.
    """
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
    if etree.QName(op).namespace != NS or name not in OPERATIONS:
        raise FaultError(True, f"unknown operation {name!r}")
    return name, op


def response_envelope(version: str, element: Any) -> bytes:
    """A SOAP `version` envelope whose Body holds `element`."""
    envelope = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "p": NS})
    etree.SubElement(envelope, f"{{{version}}}Body").append(element)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


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


# -- the operations' parts ---------------------------------------------------------------------
def child(op: Any, name: str) -> str | None:
    """The text of the operation's child `name` ("" when empty), None when there is no such child."""
    node = op.find(f"{{{NS}}}{name}")
    return None if node is None else (node.text or "")


def base64_child(op: Any, name: str, *, required: bool) -> bytes | None:
    """The operation's child `name`, base64-decoded (whitespace ignored); None when absent.

    Raises:
        FaultError: the child is absent and `required`, or is not valid base64.
    """
    text = child(op, name)
    if text is None:
        if required:
            raise FaultError(True, f"{name} is required")
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FaultError(True, f"{name} is not valid base64") from None


def er7_bytes(text: str) -> bytes:
    """ER7 text from XML as bytes for the engine, in the charset its MSH-18 names.

    XML carries Unicode; the engine reads bytes and MSH-18. UTF-8 suits every label but the
    single-byte ones, which get their own encoding so that MSH-18 stays true.

    Raises:
        FaultError: the text holds characters the charset MSH-18 names can't encode.
    """
    label = msh18(text).upper()
    codec = {"8859/1": "latin-1", "8859/15": "iso8859-15", "ASCII": "ascii"}.get(label, "utf-8")
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        raise FaultError(True, f"the message text holds characters MSH-18 {label} can't encode") from None


def msh18(text: str) -> str:
    """MSH-18 (its first repetition) of ER7 text, "" when there is none."""
    if not text.startswith("MSH") or len(text) < 8:
        return ""
    fs = text[3]
    first = text.split("\r", 1)[0].split("\n", 1)[0]
    fields = first.split(fs)
    value = fields[17] if len(fields) > 17 else ""
    return value.split(text[5] if len(text) > 5 else "~", 1)[0].strip()


# -- the operations' answers -------------------------------------------------------------------
def ack_element(reply: Reply | None) -> Any:
    """SubmitHL7Response: the ACK as text and as base64, and its code as the engine gives it.

    Raises:
        FaultError: there is no reply: the message was an acknowledgement, never acknowledged.
    """
    if reply is None or reply.outcome is Outcome.IGNORED:
        raise FaultError(True, "acknowledgements are never acknowledged")
    response = etree.Element(f"{{{NS}}}SubmitHL7Response", nsmap={"p": NS})
    etree.SubElement(response, f"{{{NS}}}ack").text = ack_text(reply.ack)
    etree.SubElement(response, f"{{{NS}}}ackBase64").text = base64.b64encode(reply.ack).decode("ascii")
    etree.SubElement(response, f"{{{NS}}}ackCode").text = reply.code.value
    return response


def ack_text(ack: bytes) -> str:
    """The ACK as text: it is encoded like the message it answers (UTF-8, else a single-byte set)."""
    try:
        return ack.decode("utf-8")
    except UnicodeDecodeError:
        return ack.decode("latin-1")


def dicom_element(reply: DicomReply) -> Any:
    """SubmitDICOMResponse: what became of the object."""
    response = etree.Element(f"{{{NS}}}SubmitDICOMResponse", nsmap={"p": NS})
    etree.SubElement(response, f"{{{NS}}}status").text = reply.status
    etree.SubElement(response, f"{{{NS}}}text").text = reply.text
    etree.SubElement(response, f"{{{NS}}}studyInstanceUID").text = reply.study_uid
    etree.SubElement(response, f"{{{NS}}}sopInstanceUID").text = reply.sop_instance_uid
    return response
