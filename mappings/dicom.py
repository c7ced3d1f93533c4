"""DICOM objects -> study metadata, read with pydicom. Pixel data is never read nor kept.

Only DICOM Part 10 files are accepted: a 128-byte preamble, then "DICM" and the file meta
information. pydicom's ``force=True`` would read anything as a dataset and return garbage, so
it is not used. Text is decoded with the object's Specific Character Set (ISO_IR 100 carries
French names). Structured reports (Basic Text, Enhanced, Comprehensive SR) give report text.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from .records import Identifier, Patient

# SR storage SOP classes whose content tree is read as report text.
SR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
}
MAX_SR_LINES = 2000  # a content tree deeper or longer than this is cut, with a note


@dataclass(frozen=True, slots=True)
class DicomError(Exception):
    """A DICOM object that can't be imported; the text says why, in French and English."""

    text_fr: str
    text_en: str

    def __str__(self) -> str:
        return f"{self.text_fr} / {self.text_en}"


@dataclass(frozen=True, slots=True)
class DicomObject:
    """What the repository keeps of one DICOM object."""

    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    accession: str
    accession_issuer: str  # (0008,0051) Issuer of Accession Number: its Local Namespace Entity ID
    patient: Patient
    modality: str
    study_date: str  # ISO date, or "" when absent or invalid
    study_description: str
    series_description: str
    charset: str
    report_text: str
    sha256: str
    size: int


def read_dicom(data: bytes) -> DicomObject:
    """Read one DICOM Part 10 object's metadata.

    Raises:
        DicomError: not a Part 10 file, truncated, unreadable, or without the UIDs a study needs.
    """
    if len(data) < 132 or data[128:132] != b"DICM":
        raise DicomError(
            "pas un fichier DICOM partie 10 : préambule de 128 octets et « DICM » absents",
            "not a DICOM Part 10 file: the 128-byte preamble and 'DICM' prefix are missing",
        )
    _check_inflated_size(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on odd values; what matters is checked below
            # Read to the end (pixel data included, then dropped): only a whole read can tell a
            # truncated object, since pydicom returns short values without complaint.
            ds = pydicom.dcmread(io.BytesIO(data))
            _check_complete(ds)
            return _extract(ds, data)
    except DicomError:
        raise
    except InvalidDicomError:
        raise DicomError("fichier DICOM invalide", "invalid DICOM file") from None
    except Exception as exc:  # pydicom raises many kinds on malformed input; each becomes one clear answer
        message = str(exc).lower()
        truncated = isinstance(exc, EOFError | struct.error) or "end of file" in message or "no tag to read" in message
        if truncated:
            raise DicomError("fichier DICOM tronqué", "truncated DICOM file") from None
        raise DicomError(
            f"objet DICOM illisible ({type(exc).__name__})", f"unreadable DICOM object ({type(exc).__name__})"
        ) from None


DEFLATED = "1.2.840.10008.1.2.1.99"  # Deflated Explicit VR Little Endian
INFLATE_CAP = 64 * 1024 * 1024  # bytes a deflated object may inflate to (metadata and SR are read, pixels dropped)


def _check_inflated_size(data: bytes, cap: int = INFLATE_CAP) -> None:
    """Refuse a deflated object that inflates past `cap`, before pydicom inflates it whole.

    A few hundred KiB of deflate can stand for gigabytes: the dataset after the file meta group
    is inflated here in bounded steps, and only an object within the cap goes on to pydicom.
    """
    end, syntax = _meta_group(data)
    if syntax != DEFLATED:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = 0
    chunk = data[end:]
    try:
        while chunk and size <= cap:
            size += len(inflater.decompress(chunk, 1 << 20))
            chunk = inflater.unconsumed_tail
    except zlib.error:
        raise DicomError("données DICOM compressées illisibles", "unreadable deflated DICOM data") from None
    if size > cap:
        raise DicomError(
            f"objet DICOM compressé au-delà de {cap} octets une fois décompressé",
            f"deflated DICOM object inflates past {cap} bytes",
        )


def _meta_group(data: bytes) -> tuple[int, str]:
    """Where the file meta group (0002) ends, and its Transfer Syntax UID ("" when unreadable).

    The group is explicit VR little endian and starts with its length, (0002,0000) UL.
    """
    if data[132:136] != b"\x02\x00\x00\x00" or data[136:138] != b"UL":
        return 0, ""
    (length,) = struct.unpack_from("<I", data, 140)
    end = 144 + length
    pos = 144
    while pos + 8 <= min(end, len(data)):
        group, element = struct.unpack_from("<HH", data, pos)
        vr = data[pos + 4 : pos + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            (size,) = struct.unpack_from("<I", data, pos + 8)
            start = pos + 12
        else:
            (size,) = struct.unpack_from("<H", data, pos + 6)
            start = pos + 8
        if (group, element) == (0x0002, 0x0010):
            return end, data[start : start + size].rstrip(b"\x00 ").decode("ascii", "replace")
        pos = start + size
    return end, ""


_UNDEFINED = 0xFFFFFFFF
_PIXELS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _check_complete(ds: Any) -> None:
    """Raise when a value is shorter than its declared length, or an image lost its pixels."""
    truncated = DicomError("fichier DICOM tronqué", "truncated DICOM file")
    for raw in ds._dict.values():  # top-level elements, still raw: their declared lengths
        length = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        if length not in (None, _UNDEFINED) and isinstance(value, bytes) and len(value) < length:
            raise truncated
    if "Rows" in ds and not any(k in ds for k in _PIXELS):
        raise truncated


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    return str(value).strip()


def _extract(ds: Any, data: bytes) -> DicomObject:
    sop_uid = _text(ds, "SOPInstanceUID") or _text(ds.file_meta, "MediaStorageSOPInstanceUID")
    study_uid = _text(ds, "StudyInstanceUID")
    if not sop_uid:
        raise DicomError("SOP Instance UID (0008,0018) absent", "no SOP Instance UID (0008,0018)")
    if not study_uid:
        raise DicomError("Study Instance UID (0020,000D) absent", "no Study Instance UID (0020,000D)")
    name = ds.get("PatientName")
    patient_id = _text(ds, "PatientID")
    issuer = _text(ds, "IssuerOfPatientID")
    identifiers = (Identifier(patient_id, "PI", issuer, "", False),) if patient_id else ()
    birth = _text(ds, "PatientBirthDate")
    sop_class = _text(ds, "SOPClassUID")
    charset = ds.get("SpecificCharacterSet", "")
    return DicomObject(
        sop_instance_uid=sop_uid,
        sop_class_uid=sop_class,
        study_uid=study_uid,
        series_uid=_text(ds, "SeriesInstanceUID"),
        accession=_text(ds, "AccessionNumber"),
        accession_issuer=_accession_issuer(ds),
        patient=Patient(
            identifiers=identifiers,
            family=str(name.family_name) if name else "",
            given=str(name.given_name) if name else "",
            birth_date=_iso_date(birth),
            birth_date_raw=birth,
            sex=_text(ds, "PatientSex"),
        ),
        modality=_text(ds, "Modality"),
        study_date=_iso_date(_text(ds, "StudyDate")) or "",
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        charset="\\".join(charset) if isinstance(charset, list | pydicom.multival.MultiValue) else str(charset),
        report_text=_sr_text(ds) if sop_class in SR_CLASSES else "",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _iso_date(da: str) -> str | None:
    if len(da) == 8 and da.isdigit():
        return f"{da[:4]}-{da[4:6]}-{da[6:]}"
    return None


def _sr_text(ds: Any) -> str:
    """The SR content tree as indented lines: concept name, then the text, code or number."""
    lines: list[str] = []
    title = _meaning(ds.get("ConceptNameCodeSequence"))
    if title:
        lines.append(title)
    _walk(ds.get("ContentSequence") or [], 1, lines)
    return "\n".join(lines)


def _meaning(seq: Any) -> str:
    if not seq:
        return ""
    return str(seq[0].get("CodeMeaning", "")).strip()


def _walk(items: Any, depth: int, lines: list[str]) -> None:
    for item in items:
        if len(lines) >= MAX_SR_LINES:
            lines.append("[…]")
            return
        kind = str(item.get("ValueType", ""))
        name = _meaning(item.get("ConceptNameCodeSequence"))
        value = ""
        if kind == "TEXT":
            value = str(item.get("TextValue", "")).strip()
        elif kind == "CODE":
            value = _meaning(item.get("ConceptCodeSequence"))
        elif kind == "NUM":
            measured = item.get("MeasuredValueSequence")
            if measured:
                units = measured[0].get("MeasurementUnitsCodeSequence")
                unit = str(units[0].get("CodeValue", "")) if units else ""
                value = f"{measured[0].get('NumericValue', '')} {unit}".strip()
        elif kind in ("PNAME", "DATE", "TIME", "DATETIME", "UIDREF"):
            keyword = {
                "PNAME": "PersonName",
                "DATE": "Date",
                "TIME": "Time",
                "DATETIME": "DateTime",
                "UIDREF": "UID",
            }[kind]
            value = str(item.get(keyword, "")).strip()
        if name or value:
            lines.append("  " * (depth - 1) + (f"{name}: {value}" if name and value else name or value))
        children = item.get("ContentSequence")
        if children:
            _walk(children, depth + 1, lines)


def _accession_issuer(ds: Any) -> str:
    """The Local Namespace Entity ID (0040,0031) of the Issuer of Accession Number Sequence, or ""."""
    seq = ds.get("IssuerOfAccessionNumberSequence")
    if not seq:
        return ""
    return _text(seq[0], "LocalNamespaceEntityID") or _text(seq[0], "UniversalEntityID")
