"""The SOAP channel: the same engine behind a document/literal web service, on twisted.web.

``POST /hl7`` takes a SOAP 1.1 (``text/xml``) or SOAP 1.2 (``application/soap+xml``) envelope
holding one operation; ``GET /hl7?wsdl`` serves the WSDL that describes them:

- ``SubmitHL7``: an HL7 v2 message as ER7 text (``message``) or as bytes in base64
  (``messageBase64``, with an optional ``charset`` used when MSH-18 is empty). The answer holds
  the hub's ACK, exactly as MLLP would send it, and its code, once the message is committed.
- ``SubmitDICOM``: a DICOM Part 10 object in base64 (``object``), for an imaging channel.

`envelope` reads and writes the XML (hardened against hostile input), `resource` is the
twisted.web side, `wsdl` the service description, whose address comes from configuration.
"""

from .envelope import NS, SOAP11, SOAP12, FaultError, fault_envelope, hardened_parser, read_envelope
from .resource import CappedRequest, SoapLimits, SOAPResource, site
from .wsdl import render_wsdl

__all__ = [
    "NS",
    "SOAP11",
    "SOAP12",
    "CappedRequest",
    "FaultError",
    "SOAPResource",
    "SoapLimits",
    "fault_envelope",
    "hardened_parser",
    "read_envelope",
    "render_wsdl",
    "site",
]
