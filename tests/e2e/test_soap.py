"""The SOAP channel through zeep, built from the served WSDL alone, and against hostile XML.

zeep is a real client: it reads /hl7?wsdl and nothing else. The lab samples get the same ACK
codes as over MLLP. XML attacks get a Fault and nothing else, and are journaled.
"""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from commands import invoke
from cryptography.hazmat.primitives import serialization
from helpers import LAB_EXPECTED, lab_message
from lxml import etree
from pki import Leaf, issue, make_ca
from servers import Server, ServerFactory
from shared_samples import sample, samples
from xpaths import xnodes, xstrings
from zeep.transports import Transport

from channels.soap import hardened_parser
from hub.cli.client import is_response
from hub.hl7.files import split_messages

pytestmark = pytest.mark.slow
ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = {"soap": "http://schemas.xmlsoap.org/wsdl/soap/", "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/"}


@pytest.fixture
def soap(server_factory: ServerFactory, db_url: str) -> Server:
    """A hub whose lab channel speaks SOAP (rule set, partners and 1 MiB body cap as config.yaml)."""
    return server_factory(db_url=db_url, protocol="soap", ruleset="tgv-lab-2026.1")


def client(port: int, binding: str = "HL7Soap11") -> Any:
    """A zeep service proxy built from the WSDL URL alone (its operations exist only at run time)."""
    return zeep.Client(f"http://127.0.0.1:{port}/hl7?wsdl").bind("Passerelle", binding)  # type: ignore[no-untyped-call]


def post(port: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> tuple[int, str]:
    """A raw HTTP POST to /hl7: (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/hl7", body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wsdl_locations(port: int, host: str) -> list[str]:
    """GET /hl7?wsdl with `host` as the Host header: the service addresses the WSDL publishes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", "/hl7?wsdl", skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 200
        tree = etree.fromstring(response.read(), hardened_parser())
    finally:
        conn.close()
    assert not xnodes(tree, "//*[@name='SubmitDICOM']")  # a lab channel: no DICOM operation
    return xstrings(tree, "//soap:address/@location | //soap12:address/@location", WSDL)


def test_wsdl_address_comes_from_config_not_from_the_host_header(soap: Server) -> None:
    """A forged Host header changes nothing: the WSDL names the address the channel listens on."""
    expected = [f"http://127.0.0.1:{soap.port}/hl7"] * 2
    assert wsdl_locations(soap.port, "evil.example:666") == expected
    assert wsdl_locations(soap.port, f"127.0.0.1:{soap.port}") == expected


def test_wsdl_publishes_the_channels_public_url(server_factory: ServerFactory, db_url: str) -> None:
    """public_url (a proxy's address) is what the WSDL publishes, whatever the Host header says."""
    public = "https://hub.example.org/passerelle/hl7"
    server = server_factory(db_url=db_url, protocol="soap", public_url=public)
    assert wsdl_locations(server.port, "evil.example") == [public, public]
    assert wsdl_locations(server.port, f"127.0.0.1:{server.port}") == [public, public]


def test_every_lab_sample_gets_the_same_ack_code_as_over_mllp(soap: Server) -> None:
    """Each message of each lab sample, as base64 bytes through zeep: the MLLP table's codes."""
    service = client(soap.port)
    got: dict[str, list[str]] = {}
    for path in samples("hl7v2/lab", "*.hl7"):
        for raw in split_messages(path.read_bytes()):
            if is_response(raw):  # holds an MSA: never acknowledged, a Fault says so
                with pytest.raises(zeep.exceptions.Fault, match="never acknowledged"):
                    service.SubmitHL7(messageBase64=raw)
                code = "--"
            else:
                code = service.SubmitHL7(messageBase64=raw).ackCode
            got.setdefault(path.name, []).append(code)
    assert got == LAB_EXPECTED


def test_er7_text_and_soap_12(soap: Server) -> None:
    """ER7 as text (CRs survive XML as &#13;) and the SOAP 1.2 binding; French text intact."""
    text = lab_message("SOAP-TXT-1").decode().replace("Test^Lab", "Lévesque^Zoé")
    answer = client(soap.port).SubmitHL7(message=text)
    assert answer.ackCode == "AA"
    assert "\rMSA|AA|SOAP-TXT-1" in answer.ack
    assert base64.b64decode(answer.ackBase64) if isinstance(answer.ackBase64, str) else answer.ackBase64
    answer12 = client(soap.port, "HL7Soap12").SubmitHL7(message=text.replace("SOAP-TXT-1", "SOAP-TXT-2"))
    assert answer12.ackCode == "AA"
    shown = invoke("show", "patient", "P1", "--json", "--config", str(soap.config))
    assert json.loads(shown.stdout)["patient"]["given"] == "Zoé"


def test_faults_are_client_or_sender(soap: Server) -> None:
    """Bad requests get a SOAP Fault naming the client (1.1) or the sender (1.2, HTTP 400)."""
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client(soap.port).SubmitHL7()
    assert fault.value.code == "soap:Client"
    envelope12 = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        b'<p:Nope xmlns:p="urn:passerelle:hl7:v1"/></e:Body></e:Envelope>'
    )
    status, body = post(soap.port, envelope12, "application/soap+xml; charset=utf-8")
    assert status == 400
    assert "soap:Sender" in body and "unknown operation" in body
    status, body = post(soap.port, b"<not-closed>")
    assert status == 500 and "soap:Client" in body and "malformed XML" in body


XXE = f"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="{ENV11}"><s:Body><p:SubmitHL7 xmlns:p="urn:passerelle:hl7:v1">
<p:message>&xxe;</p:message></p:SubmitHL7></s:Body></s:Envelope>""".encode()
EXTERNAL_DTD = f"""<?xml version="1.0"?>
<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<s:Envelope xmlns:s="{ENV11}"><s:Body/></s:Envelope>""".encode()


def _entity(i: int) -> bytes:
    """Entity lol<i>: ten of the one before."""
    inner = f"&lol{i - 1};" if i > 1 else "&lol;"
    return f'<!ENTITY lol{i} "{inner * 10}">'.encode()


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + f']><s:Envelope xmlns:s="{ENV11}"><s:Body><p:SubmitHL7 xmlns:p="urn:passerelle:hl7:v1">'.encode()
    + b"<p:message>&lol9;</p:message></p:SubmitHL7></s:Body></s:Envelope>"
)
# The same attack without "DOCTYPE" in the first bytes the quick check reads: the parser refuses it.
HIDDEN_DOCTYPE = b"<!-- " + b"x" * 5000 + b" -->" + XXE.split(b"?>", 1)[1]


@pytest.mark.parametrize(
    "attack",
    [XXE, EXTERNAL_DTD, LAUGHS, HIDDEN_DOCTYPE],
    ids=["xxe-file-read", "external-dtd", "billion-laughs", "doctype-after-5kb"],
)
def test_xml_attacks_get_a_fault_and_nothing_else(soap: Server, attack: bytes) -> None:
    """A Fault (Client), no file content, no expansion; the attempt is journaled; the hub still serves."""
    status, body = post(soap.port, attack)
    assert status == 500
    assert "soap:Client" in body and "DOCTYPE is not allowed" in body
    assert "root:" not in body and "lollol" not in body
    listed = invoke("messages", "list", "--json", "--config", str(soap.config))
    (entry,) = [e for e in json.loads(listed.stdout) if e["channel"] == "lab"]
    assert (entry["status"], entry["reason"]) == ("protocol", " 199 E SOAP request refused (Fault sent)")
    assert client(soap.port).SubmitHL7(messageBase64=lab_message("AFTER-ATTACK")).ackCode == "AA"


def test_oversized_body_gets_a_fault(soap: Server) -> None:
    """A body over the channel's 1 MiB cap: Fault with HTTP 413, nothing of it kept."""
    envelope = (
        f'<s:Envelope xmlns:s="{ENV11}"><s:Body><p:SubmitHL7 xmlns:p="urn:passerelle:hl7:v1"><p:message>'.encode()
        + b"A" * 1_100_000
        + b"</p:message></p:SubmitHL7></s:Body></s:Envelope>"
    )
    status, body = post(soap.port, envelope)
    assert status == 413
    assert "soap:Client" in body and "cap of 1048576 bytes" in body


# -- mutual TLS: partner identity, and DICOM objects -----------------------------------------------
@dataclass
class TlsSoap:
    """A SOAP hub requiring client certificates, its CA, and the leaves "partner" and "stranger"."""

    server: Server
    ca: Path
    leaves: dict[str, Leaf]


@pytest.fixture
def tls_soap(server_factory: ServerFactory, tmp_path: Path) -> TlsSoap:
    """An imaging SOAP channel requiring a client certificate; partner RIS-A known by its certificate."""
    ca = make_ca("Passerelle test CA")
    (tmp_path / "ca.crt").write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    server_cert, server_key, _ = issue(ca, "hub", True, tmp_path)
    partner = issue(ca, "ris-a", False, tmp_path)
    stranger = issue(ca, "ris-b", False, tmp_path)  # signed by the CA, but not a known partner
    partners: list[dict[str, object]] = [
        {
            "id": "ris-a",
            "name": "RIS A",
            "organization": "chum",
            "authorities": ["H"],
            "category": "government",
            "domains": ["imaging"],
            "product": {"name": "RIS", "version": "1"},
            "identities": [
                {"certificate_sha256": partner[2]},
                {"sending_application": "RISA", "sending_facility": "H"},
            ],
        }
    ]
    tls = {"certificate": str(server_cert), "key": str(server_key), "ca": str(tmp_path / "ca.crt")}
    server = server_factory(
        name="imaging",
        domain="imaging",
        protocol="soap",
        partners=partners,
        tls={**tls, "client_certificate": "required"},
    )
    return TlsSoap(server, tmp_path / "ca.crt", {"partner": partner, "stranger": stranger})


def tls_client(setup: TlsSoap, who: str) -> Any:
    """Zeep over HTTPS with `who`'s certificate, from the WSDL alone."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the test CA
    session.verify = str(setup.ca)
    cert, key, _ = setup.leaves[who]
    session.cert = (str(cert), str(key))
    url = f"https://127.0.0.1:{setup.server.port}/hl7?wsdl"
    transport = Transport(session=session)  # type: ignore[no-untyped-call]
    return zeep.Client(url, transport=transport).bind("Passerelle", "HL7Soap11")  # type: ignore[no-untyped-call]


def test_dicom_over_soap_is_linked_by_the_partners_certificate(tls_soap: TlsSoap) -> None:
    """A known certificate imports the object; a certificate the registry does not know is refused."""
    data = sample("dicom", "CT_small.dcm").read_bytes()
    reply = tls_client(tls_soap, "partner").SubmitDICOM(object=data)
    assert (reply.status, reply.studyInstanceUID) == ("accepted", "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")
    again = tls_client(tls_soap, "partner").SubmitDICOM(object=data)
    assert again.status == "duplicate"
    refused = tls_client(tls_soap, "stranger").SubmitDICOM(object=data)
    assert refused.status == "refused"
    bad = tls_client(tls_soap, "partner").SubmitDICOM(object=sample("dicom", "no_meta.dcm").read_bytes())
    assert bad.status == "error" and "not a DICOM Part 10 file" in bad.text


def test_hl7_over_tls_soap_takes_identity_from_the_certificate(tls_soap: TlsSoap) -> None:
    """RIS-A's MSH under RIS-B's certificate is refused, as over MLLP."""
    report = (
        "MSH|^~\\&|RISA|H|DSQ|QC|20260103120000||ORM^O01^ORM_O01|T1|P|2.5.1\r"
        "PID|1||X9^^^H^MR||Roy^Anne\rORC|NW|P1|F1\rOBR|1|P1|F1|24627-2^TDM^LN\r"
    )
    ok = tls_client(tls_soap, "partner").SubmitHL7(message=report)
    assert ok.ackCode == "AA", ok.ack
    refused = tls_client(tls_soap, "stranger").SubmitHL7(message=report.replace("|T1|", "|T2|"))
    assert refused.ackCode == "AR"
