"""The SOAP channel through twisted.web on a StringTransport (no socket, no reactor), and its WSDL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import Transport, attach, peer
from lxml import etree
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from channels.soap import NS, SOAP11, SOAP12, SoapLimits, fault_envelope, hardened_parser, render_wsdl, site
from hub.config import ChannelConfig, TLSConfig, soap_location
from hub.interfaces import Inbound, Outcome, Reply

WSDL_NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "xs": "http://www.w3.org/2001/XMLSchema",
}
LOCATION = "https://hub.example.org/soap/hl7"
MESSAGE = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|ONE|P|2.5.1\rPID|1\r"


class ReplyingHandler:
    """A MessageHandler (the Reply seam) that records every Inbound and answers through `answer`."""

    def __init__(self, answer: Callable[[Inbound], Reply | None]) -> None:
        self.answer = answer
        self.received: list[Inbound] = []

    def blocked(self, peer: str) -> bool:
        """Nobody is rate-limited here."""
        return False

    def accepting(self) -> bool:
        """Always: there is no queue here."""
        return True

    def when_accepting(self, callback: Callable[[], None]) -> None:
        """Call now: there is never a queue."""
        callback()

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Record, then answer now."""
        self.received.append(inbound)
        return succeed(self.answer(inbound))


def exchange(handler: ReplyingHandler, request: bytes, *, dicom: bool = False) -> tuple[int, bytes]:
    """One HTTP request through the channel's Site: (status, body)."""
    factory = site("lab", handler, None, SoapLimits(65536, dicom=dicom), 30.0, location=LOCATION)
    factory.reactor = Clock()  # idle timeouts and the access log's clock: no global reactor
    proto = factory.buildProtocol(peer())
    transport = Transport()
    attach(proto, transport)
    proto.dataReceived(request)
    head, _, body = transport.value().partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def post(
    handler: ReplyingHandler, envelope: bytes, content_type: bytes = b"text/xml; charset=utf-8"
) -> tuple[int, etree._Element]:
    """POST `envelope` to /hl7: (status, the answer's parsed root)."""
    request = (
        b"POST /hl7 HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(envelope)).encode() + b"\r\nConnection: close\r\n\r\n" + envelope
    )
    status, body = exchange(handler, request)
    return status, etree.fromstring(body, hardened_parser())


def submit(text: str, version: str = SOAP11) -> bytes:
    """A SubmitHL7 envelope holding ER7 `text`."""
    env = etree.Element(f"{{{version}}}Envelope", nsmap={"s": version})
    op = etree.SubElement(etree.SubElement(env, f"{{{version}}}Body"), f"{{{NS}}}SubmitHL7", nsmap={"p": NS})
    etree.SubElement(op, f"{{{NS}}}message").text = text
    return bytes(etree.tostring(env))


def test_ack_code_is_the_replys_code_not_read_from_the_ack() -> None:
    """The ackCode is Reply.code: an ACK whose bytes say AA but whose code is CE answers CE."""
    ack = b"MSH|^~\\&|DSQ|QC|A|B|20260101||ACK|1|P|2.5.1\rMSA|AA|ONE\r"
    handler = ReplyingHandler(lambda _: Reply(Outcome.CE, ack, Outcome.CE))
    status, root = post(handler, submit(MESSAGE))
    assert status == 200
    response = root.find(f"{{{SOAP11}}}Body/{{{NS}}}SubmitHL7Response")
    assert response is not None
    assert response.findtext(f"{{{NS}}}ackCode") == "CE"
    assert response.findtext(f"{{{NS}}}ack") == ack.decode()
    assert base64.b64decode(response.findtext(f"{{{NS}}}ackBase64") or "") == ack
    assert [i.raw for i in handler.received] == [MESSAGE.encode()]


def test_a_duplicates_code_is_the_stored_acks() -> None:
    """A duplicate answers the stored ACK with the stored ACK's code, over SOAP 1.2 too."""
    handler = ReplyingHandler(lambda _: Reply(Outcome.DUPLICATE, b"MSH|...\rMSA|AE|ONE\r", Outcome.AE))
    status, root = post(handler, submit(MESSAGE, SOAP12), b"application/soap+xml; charset=utf-8")
    assert status == 200
    assert root.findtext(f"{{{SOAP12}}}Body/{{{NS}}}SubmitHL7Response/{{{NS}}}ackCode") == "AE"


def test_no_reply_is_a_client_fault() -> None:
    """None (an acknowledgement sent to the hub) gets a Client Fault: never acknowledged."""
    status, root = post(ReplyingHandler(lambda _: None), submit("MSH|^~\\&|A|B|C|D|1||ACK|9|P|2.5.1\rMSA|AA|1\r"))
    assert status == 500
    assert root.findtext(f".//{{{SOAP11}}}Fault/faultcode") == "soap:Client"
    assert "never acknowledged" in (root.findtext(f".//{{{SOAP11}}}Fault/faultstring") or "")


def test_fault_envelope_12_names_the_sender() -> None:
    """A SOAP 1.2 Fault: Code/Value soap:Sender, an English Reason."""
    root = etree.fromstring(fault_envelope(SOAP12, client=True, text="nope"), hardened_parser())
    assert root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "soap:Sender"
    assert root.findtext(f".//{{{SOAP12}}}Reason/{{{SOAP12}}}Text") == "nope"


@pytest.mark.parametrize("host", [b"evil.example", b"evil.example:666", b"[::1]:1"])
def test_wsdl_address_is_the_configured_one_whatever_the_host_header(host: bytes) -> None:
    """GET /hl7?wsdl publishes the site's location in both ports, never the request's Host."""
    request = b"GET /hl7?wsdl HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    status, body = exchange(ReplyingHandler(lambda _: None), request)
    assert status == 200
    tree = etree.fromstring(body, hardened_parser())
    locations = tree.xpath("//soap:address/@location | //soap12:address/@location", namespaces=WSDL_NS)
    assert locations == [LOCATION, LOCATION]
    assert b"evil" not in body


def test_wsdl_has_submit_dicom_only_for_imaging() -> None:
    """The static file holds SubmitDICOM; a non-imaging channel's WSDL drops every trace of it."""
    lab, imaging = render_wsdl(LOCATION, dicom=False), render_wsdl(LOCATION, dicom=True)
    assert b"SubmitDICOM" not in lab
    tree = etree.fromstring(imaging, hardened_parser())
    names = "//wsdl:binding/wsdl:operation/@name"
    assert tree.xpath(names, namespaces=WSDL_NS) == ["SubmitHL7", "SubmitDICOM"] * 2
    assert tree.xpath("//xs:schema/xs:element/@name", namespaces=WSDL_NS) == [
        "SubmitHL7",
        "SubmitHL7Response",
        "SubmitDICOM",
        "SubmitDICOMResponse",
    ]
    lab_tree = etree.fromstring(lab, hardened_parser())
    assert lab_tree.xpath(names, namespaces=WSDL_NS) == ["SubmitHL7"] * 2


def test_wsdl_location_is_an_attribute_value_not_markup() -> None:
    """A location holding quotes and angle brackets stays one attribute value."""
    tree = etree.fromstring(render_wsdl('https://h/"><x a="', dicom=False), hardened_parser())
    assert tree.xpath("//soap:address/@location", namespaces=WSDL_NS) == ['https://h/"><x a="']
    assert not tree.xpath("//x")


@pytest.mark.parametrize("location", ["", "hub.example.org/hl7", "ftp://h/hl7"])
def test_site_wants_an_http_location(location: str) -> None:
    """site() refuses a location that is not an absolute http(s) URL."""
    handler = ReplyingHandler(lambda _: None)
    with pytest.raises(ValueError, match="location must be an http"):
        site("lab", handler, None, SoapLimits(65536, dicom=False), 30.0, location=location)


def channel(listen: str, **options: object) -> ChannelConfig:
    """A SOAP lab channel listening on `listen` (plain text allowed: the address is what is tested)."""
    return ChannelConfig.model_validate(
        {"name": "lab", "protocol": "soap", "listen": listen, "domain": "lab", "allow_plaintext": True, **options}
    )


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("tcp:8080:interface=127.0.0.1", "http://127.0.0.1:8080/hl7"),
        ("tcp:port=8443:interface=10.0.0.5", "http://10.0.0.5:8443/hl7"),
        ("tcp:9000:10.1.2.3", "http://10.1.2.3:9000/hl7"),
        ("tcp:8080", "http://127.0.0.1:8080/hl7"),
        ("tcp:8080:interface=0.0.0.0", "http://127.0.0.1:8080/hl7"),
        ("tcp6:8080:interface=\\:\\:1", "http://[::1]:8080/hl7"),
        ("ssl:443:privateKey=key.pem", "https://127.0.0.1:443/hl7"),
    ],
)
def test_soap_location_from_listen(listen: str, expected: str) -> None:
    """The default address: the listen interface (or 127.0.0.1) and port, https on ssl endpoints."""
    assert soap_location(channel(listen)) == expected


def test_soap_location_tls_and_public_url(tmp_path: Path) -> None:
    """A TLS channel publishes https; public_url, when set, wins over listen."""
    tls = TLSConfig(certificate=tmp_path / "c.pem", key=tmp_path / "k.pem", client_certificate="optional")
    assert soap_location(channel("tcp:8443:interface=127.0.0.1", tls=tls)) == "https://127.0.0.1:8443/hl7"
    assert soap_location(channel("tcp:8080", public_url=LOCATION)) == LOCATION


@pytest.mark.parametrize("url", ["hub.example.org/hl7", "javascript:alert(1)", "https://", "https://h/a b"])
def test_public_url_must_be_an_http_url(url: str) -> None:
    """public_url is validated with the rest of the file."""
    with pytest.raises(ValueError, match="public_url"):
        channel("tcp:8080", public_url=url)
