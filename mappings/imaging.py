"""Imaging messages -> orders (OMI^O23, ORM^O01) and versioned radiology reports (ORU^R01).

The identifiers that tie an order, its report and its DICOM study together are kept as sent:
the accession number (IPC-1, else OBR-18 as IHE RAD uses it in older versions), the Study
Instance UID (IPC-3, else a ZDS-1 segment, else a report's OBX 113014^DICOM Study^DCM) and the
modality (IPC-5, else OBR-24).

Report text comes from TX, FT and ST values with escapes decoded (\\.br\\ becomes a new line).
A base64 ED value (a PDF) becomes a document with its hash; the channel caps its size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from hub.hl7 import Code, ContentError, Header, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.errors import warning
from hub.hl7.message import part

from .common import person
from .patient import map_patient
from .records import Document, ImagingOrder, ImagingReport, Mapped

VERSIONS: frozenset[str] = frozenset(
    {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}
)
STUDY_UID_CODE = ("113014", "DCM")  # DICOM concept "Study Instance UID" in an OBX-3
_UID = re.compile(r"\d+(\.\d+){3,}")
_TEXT_TYPES = frozenset({"TX", "FT", "ST"})
_CODED_TYPES = frozenset({"CE", "CWE", "CNE"})


@dataclass(slots=True)
class _Group:
    """One OBR (with the ORC before it) and the OBX/IPC/ZDS segments after it."""

    obr: Segment
    orc: Segment | None
    obx: list[Segment] = field(default_factory=list)
    ipc: Segment | None = None


def _groups(msg: Message) -> tuple[list[_Group], str]:
    groups: list[_Group] = []
    orc: Segment | None = None
    zds_uid = ""
    for seg in msg.segments:
        if seg.id == "ORC":
            orc = seg
        elif seg.id == "OBR":
            groups.append(_Group(seg, orc))
            orc = None
        elif seg.id == "OBX" and groups:
            groups[-1].obx.append(seg)
        elif seg.id == "IPC" and groups and groups[-1].ipc is None:
            groups[-1].ipc = seg
        elif seg.id == "ZDS":
            zds_uid = seg.value(1, 1)
    if not groups:
        raise ContentError.at(Code.SEGMENT_SEQUENCE, Location("OBR", 1), "segment OBR manquant", "OBR segment missing")
    return groups, zds_uid


def _key(facility: str, obr: Segment, orc: Segment | None, accession: str) -> str:
    filler = obr.value(3, 1) or (orc.value(3, 1) if orc else "")
    placer = obr.value(2, 1) or (orc.value(2, 1) if orc else "")
    if accession:
        return f"{facility}|ACC|{accession}"
    if filler:
        return f"{facility}|F|{filler}"
    if placer:
        return f"{facility}|P|{placer}"
    return f"{facility}|C|{obr.value(4, 1)}|{obr.value(7, 1)}"


def map_imaging_order(msg: Message, header: Header) -> Mapped:
    """Map OMI^O23 or ORM^O01: one imaging order per OBR."""
    patient = map_patient(msg)
    groups, zds_uid = _groups(msg)
    facility = part(header.sending_facility, header.d, 1)
    orders = []
    for g in groups:
        obr, orc, ipc = g.obr, g.orc, g.ipc
        accession = (ipc.value(1, 1) if ipc else "") or obr.value(18)
        orders.append(
            ImagingOrder(
                key=_key(facility, obr, orc, accession),
                order_control=orc.value(1) if orc else "",
                order_status=orc.value(5) if orc else "",
                placer_number=obr.value(2, 1) or (orc.value(2, 1) if orc else ""),
                filler_number=obr.value(3, 1) or (orc.value(3, 1) if orc else ""),
                accession=accession,
                requested_procedure_id=(ipc.value(2, 1) if ipc else "") or obr.value(19),
                study_uid=(ipc.value(3, 1) if ipc else "") or zds_uid,
                scheduled_step_id=(ipc.value(4, 1) if ipc else "") or obr.value(20),
                modality=(ipc.value(5, 1) if ipc else "") or obr.value(24),
                code=obr.value(4, 1) or (ipc.value(6, 1) if ipc else ""),
                code_text=obr.value(4, 2) or (ipc.value(6, 2) if ipc else ""),
                code_system=obr.value(4, 3) or (ipc.value(6, 3) if ipc else ""),
                ordered_at=to_iso((orc.value(9, 1) if orc else "") or obr.value(6, 1) or obr.value(7, 1)),
                ordering_provider=person(obr.raw(16) or (orc.raw(12) if orc else ""), obr),
                section=obr.value(24),
            )
        )
    return Mapped("imaging", patient, imaging_orders=tuple(orders))


def map_imaging_report(msg: Message, header: Header) -> Mapped:
    """Map an ORU^R01 radiology report: one report version per OBR.

    Raises:
        ContentError: AE 102 at OBX-5 when an ED value is not valid base64.
    """
    patient = map_patient(msg)
    groups, zds_uid = _groups(msg)
    facility = part(header.sending_facility, header.d, 1)
    warnings: list[Issue] = []
    reports = tuple(_report(g, facility, zds_uid, warnings) for g in groups)
    return Mapped("imaging", patient, warnings=tuple(warnings), imaging_reports=reports)


def _report(g: _Group, facility: str, zds_uid: str, warnings: list[Issue]) -> ImagingReport:
    """One report version: its text, coded findings and encapsulated documents."""
    obr = g.obr
    accession = obr.value(18) or (g.ipc.value(1, 1) if g.ipc else "")
    study_uid = zds_uid or (g.ipc.value(3, 1) if g.ipc else "")
    lines: list[str] = []
    findings: list[tuple[str, str, str]] = []
    documents: list[Document] = []
    for obx in g.obx:
        value_type, code, system = obx.value(2), obx.value(3, 1), obx.value(3, 3)
        if (code, system.upper()) == STUDY_UID_CODE:
            study_uid = study_uid or obx.value(5, 1)
        elif value_type == "ED":
            documents.append(_document(obx, warnings))
        elif value_type in _TEXT_TYPES:
            text = "\n".join(obx.value(5, 1, 1, i + 1) for i in range(len(obx.repetitions(5))))
            if value_type != "ST" or not _UID.fullmatch(text):  # series or instance UIDs are no report text
                lines.append(text)
        elif value_type in _CODED_TYPES:
            findings.append((code, system, obx.value(5, 2) or obx.value(5, 1)))
    return ImagingReport(
        key=_key(facility, obr, g.orc, accession),
        placer_number=obr.value(2, 1),
        filler_number=obr.value(3, 1),
        accession=accession,
        study_uid=study_uid,
        code=obr.value(4, 1),
        code_text=obr.value(4, 2),
        code_system=obr.value(4, 3),
        status=obr.value(25),
        observed_at=to_iso(obr.value(7, 1)),
        reported_at=to_iso(obr.value(22, 1)),
        text="\n".join(lines),
        findings=tuple(findings),
        documents=tuple(documents),
        section=obr.value(24),
    )


def _document(obx: Segment, warnings: list[Issue]) -> Document:
    """An ED value: source^type^subtype^encoding^data."""
    where = Location("OBX", obx.sequence, 5)
    kind, subtype, encoding = obx.value(5, 2), obx.value(5, 3), obx.value(5, 4)
    payload = obx.value(5, 5)
    if encoding.upper() not in ("BASE64", "B64"):
        raise ContentError.at(
            Code.DATA_TYPE, where, "document ED : encodage Base64 attendu", "ED document: Base64 encoding expected"
        )
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ContentError.at(
            Code.DATA_TYPE, where, "document ED : base64 invalide", "ED document: invalid base64"
        ) from None
    media_type = f"{kind or 'application'}/{subtype or 'octet-stream'}".lower()
    if media_type == "application/pdf" and not data.startswith(b"%PDF"):
        warnings.append(
            warning(Code.DATA_TYPE, where, "le document ne commence pas par %PDF", "document does not start with %PDF")
        )
    return Document(media_type, encoding, hashlib.sha256(data).hexdigest(), len(data), data, obx.sequence)
