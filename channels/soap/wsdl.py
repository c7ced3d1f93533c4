"""The service description: the static ``hl7.wsdl``, with the address configuration names.

The file is read once. Each SOAP channel gets its own copy, rendered once when its site is
built: the ``soap:address``/``soap12:address`` locations become the configured address (never
anything a request says, such as its Host header), and a channel without DICOM drops every
SubmitDICOM type, message and operation.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

WSDL_FILE = "hl7.wsdl"
_NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "xs": "http://www.w3.org/2001/XMLSchema",
}
_ADDRESSES = "//wsdl:service/wsdl:port/soap:address | //wsdl:service/wsdl:port/soap12:address"
_DICOM_PARTS = (
    "//xs:schema/xs:element[starts-with(@name, 'SubmitDICOM')]"
    " | //wsdl:message[starts-with(@name, 'SubmitDICOM')]"
    " | //wsdl:portType/wsdl:operation[@name = 'SubmitDICOM']"
    " | //wsdl:binding/wsdl:operation[@name = 'SubmitDICOM']"
)


@cache
def _template() -> Any:
    """The static file, parsed once (no entities, no DTD, no network; comments dropped)."""
    data = resources.files("channels.soap").joinpath(WSDL_FILE).read_bytes()
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        remove_comments=True,
        remove_blank_text=True,
    )
    return etree.fromstring(data, parser).getroottree()


def render_wsdl(location: str, *, dicom: bool) -> bytes:
    """The WSDL, UTF-8, with `location` as the address of both ports; SubmitDICOM only if `dicom`."""
    tree = copy.deepcopy(_template())
    addresses = tree.xpath(_ADDRESSES, namespaces=_NS)
    if len(addresses) != 2:  # the static file and the XPath above drifted apart
        raise RuntimeError(f"{WSDL_FILE}: expected 2 service addresses, found {len(addresses)}")
    for address in addresses:
        address.set("location", location)
    if not dicom:
        for node in tree.xpath(_DICOM_PARTS, namespaces=_NS):
            node.getparent().remove(node)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="utf-8", pretty_print=True))
