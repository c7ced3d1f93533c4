"""Turn raw bytes into text: byte-order mark, then MSH-18, then the channel default.

Bytes that do not decode in the chosen character set are refused (AE 102) rather than stored
as mojibake; an MSH-18 value we do not know is refused (AR 103, table 0211 value not found).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import Code, ContentError, Issue, Location, RejectError, warning

# HL7 table 0211 values (and common spellings seen in the wild) -> Python codec names.
BUILTIN_CHARSETS: dict[str, str] = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UTF-8": "utf-8",
}

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8", "UNICODE UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UNICODE UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UNICODE UTF-16"),
)

_MSH18 = Location("MSH", 1, 18)
_SINGLE_BYTE = frozenset(codecs.lookup(c).name for c in ("latin-1", "iso8859-15", "iso8859-2"))


@dataclass(frozen=True, slots=True)
class Decoded:
    """The decoded text, the codec that decoded it and how it was chosen."""

    text: str
    codec: str
    source: str  # "bom", "msh-18" or "default"
    warnings: tuple[Issue, ...] = ()


def resolve(label: str, aliases: Mapping[str, str] | None = None) -> str:
    """Map an MSH-18 label to a Python codec name, or raise AR 103."""
    key = label.strip()
    table = {k.upper(): v for k, v in BUILTIN_CHARSETS.items()}
    if aliases:
        table.update({k.upper(): v for k, v in aliases.items()})
    codec = table.get(key.upper())
    if codec is None:
        raise RejectError.at(
            Code.TABLE_VALUE_NOT_FOUND,
            _MSH18,
            "jeu de caractères MSH-18 inconnu",
            "unknown MSH-18 character set",
        )
    return codecs.lookup(codec).name


def msh18(raw: bytes) -> str:
    """MSH-18 (first repetition, first component) read from the raw first segment."""
    end = len(raw)
    for term in (b"\r", b"\n"):
        pos = raw.find(term)
        if pos != -1:
            end = min(end, pos)
    head = raw[:end].decode("latin-1")
    if len(head) < 8 or not head.startswith("MSH"):
        return ""
    fields = head.split(head[3])
    if len(fields) < 18:
        return ""
    enc = fields[1]
    value = fields[17]
    if len(enc) >= 2:
        value = value.split(enc[1])[0]  # first repetition
    if enc:
        value = value.split(enc[0])[0]  # first component
    return value


def decode(raw: bytes, default: str = "utf-8", aliases: Mapping[str, str] | None = None) -> Decoded:
    """Decode `raw` following the resolution order BOM, MSH-18, channel default."""
    for bom, codec, _label in _BOMS:
        if raw.startswith(bom):
            return Decoded(_strict(raw[len(bom) :], codec), codec, "bom")
    label = msh18(raw)
    if label:
        codec = resolve(label, aliases)
        source = "msh-18"
    else:
        codec = codecs.lookup(default).name
        source = "default"
    text = _strict(raw, codec)
    warnings: tuple[Issue, ...] = ()
    if codec in _SINGLE_BYTE and _looks_utf8(raw):
        raise ContentError.at(
            Code.DATA_TYPE,
            _MSH18,
            "octets UTF-8 alors que MSH-18 déclare un jeu sur un octet",
            "bytes are UTF-8 but MSH-18 declares a single-byte character set",
        )
    if source == "default" and codec != "ascii" and not raw.isascii():
        warnings = (
            warning(
                Code.OTHER,
                _MSH18,
                "MSH-18 absent : jeu par défaut du canal appliqué",
                "MSH-18 empty: channel default character set applied",
            ),
        )
    return Decoded(text, codec, source, warnings)


def _looks_utf8(raw: bytes) -> bool:
    """True when non-ASCII bytes are present and all of them form valid UTF-8 sequences."""
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strict(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise ContentError.at(
            Code.DATA_TYPE,
            _locate(raw, exc.start),
            f"octets invalides pour le jeu {codec}",
            f"bytes not valid in character set {codec}",
        ) from None


def _locate(raw: bytes, offset: int) -> Location:
    """Segment and field that hold byte `offset`, for ERR-2."""
    before = raw[:offset].replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    lines = before.split(b"\r")
    line = lines[-1]
    seg = line[:3].decode("latin-1")
    fs = raw[3:4] or b"|"
    field = line.count(fs)
    if seg == "MSH":
        field += 1
    count = sum(1 for ln in lines if ln[:3] == line[:3])
    return Location(seg, count, field or None)
