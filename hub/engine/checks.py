"""The checks of steps 1-5 that need no state: the header, the size caps, the transport's defects.

Each raises from the `hub.hl7.errors` tree; the pipeline turns that into an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.hl7 import KNOWN_VERSIONS, Code, ContentError, Header, Issue, Location, RejectError
from hub.hl7.charsets import resolve as resolve_charset
from hub.interfaces import Defect
from mappings import Mapped

from .policy import ChannelPolicy

# One text for every refusal: the reason code is journaled, never told to the sender.
LINK_REFUSED = Issue(
    Code.INTERNAL_ERROR, Location("MSH", 1, 3), "lien non autorisé", "link not authorized", "E", "link-policy"
)


def check_header(h: Header, policy: ChannelPolicy) -> None:
    """MSH-9, MSH-10, MSH-11 and MSH-12 checks (bad-inputs rows 14-19).

    Raises:
        RejectError: AR 101 (MSH-9 empty), 202 (processing ID), 203 (version).
        ContentError: AE 101 (MSH-10 empty), AE 104 (MSH-10 too long or with delimiters).
    """
    if not h.message_code:
        raise RejectError.at(
            Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 9), "MSH-9 vide", "MSH-9 message type is empty"
        )
    if not h.control_id:
        raise ContentError.at(
            Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 10), "MSH-10 vide", "MSH-10 control ID is empty"
        )
    if not control_id_safe(h):
        raise ContentError.at(
            Code.VALUE_TOO_LONG,
            Location("MSH", 1, 10),
            "MSH-10 trop long ou avec délimiteurs",
            "MSH-10 too long or holds delimiters",
        )
    if h.version not in KNOWN_VERSIONS:
        raise RejectError.at(
            Code.UNSUPPORTED_VERSION, Location("MSH", 1, 12), "version HL7 inconnue", "unknown HL7 version"
        )
    if h.processing_id not in policy.processing_ids:
        raise RejectError.at(
            Code.UNSUPPORTED_PROCESSING_ID,
            Location("MSH", 1, 11),
            f"MSH-11 refusé sur le canal {policy.name}",
            f"MSH-11 processing ID not accepted on channel {policy.name}",
        )


def control_id_safe(h: Header) -> bool:
    """MSH-10 within its length (20 before v2.5, 199 from v2.5) and free of delimiters."""
    limit = 20 if h.version in ("2.1", "2.2", "2.3", "2.3.1", "2.4") else 199
    d = h.d
    delimiters = {d.component, d.repetition, d.subcomponent, d.escape}
    return len(h.control_id) <= limit and not (delimiters & set(h.control_id))


def defect_issue(defect: Defect, note: str = "") -> Issue:
    """The issue a transport's defect is answered (and journaled) with; `note` is the transport's reason."""
    texts = {
        Defect.EMPTY: ("trame MLLP vide", "empty MLLP frame"),
        Defect.TRUNCATED: ("trame MLLP tronquée (VT avant FS)", "truncated MLLP frame (VT before FS)"),
        Defect.JUNK: ("octets hors trame MLLP", "bytes outside an MLLP frame"),
        Defect.OVERSIZE: ("trame trop grande", "frame or body over the size cap"),
        Defect.MALFORMED: ("requête SOAP refusée", "SOAP request refused (Fault sent)"),
        Defect.SLOW: ("trame non terminée à temps", "frame not completed in time"),
        Defect.TLS: ("négociation TLS échouée", "TLS handshake failed"),
    }
    fr, en = texts[defect]
    if note:
        fr, en = f"{fr} : {note}", f"{en}: {note}"
    code = Code.SEGMENT_SEQUENCE if defect is Defect.EMPTY else Code.OTHER
    return Issue(code, Location(), fr, en)


def charset_hint(label: str, aliases: Mapping[str, str]) -> str:
    """The codec a transport's charset hint names: a table 0211 value or a configured alias; else AR 103.

    Never any Python codec name: a hint like ``rot13`` or ``unicode_escape`` would decode the
    message into something its sender never wrote.
    """
    try:
        return resolve_charset(label, aliases)
    except RejectError:
        raise RejectError.at(
            Code.TABLE_VALUE_NOT_FOUND, Location("MSH", 1, 18), "jeu de caractères inconnu", "unknown charset"
        ) from None


def check_documents(mapped: Mapped, policy: ChannelPolicy) -> None:
    """An ED document over the channel's cap: AE 104 at its OBX-5 (the sender keeps it, nothing is cut)."""
    for report in mapped.imaging_reports:
        for doc in report.documents:
            if doc.size > policy.max_document_bytes:
                raise ContentError.at(
                    Code.VALUE_TOO_LONG,
                    Location("OBX", doc.obx_sequence, 5),
                    f"document de {doc.size} octets, maximum {policy.max_document_bytes}",
                    f"document of {doc.size} bytes, at most {policy.max_document_bytes}",
                )
