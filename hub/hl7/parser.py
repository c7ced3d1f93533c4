"""The ER7 parser: text in, `Message` out, or an `HL7Error` saying where and why.

Only ``str`` methods implemented in C are used on the whole text (find, split, a single
regular-expression scan for control characters), so the cost is linear and small.
"""

from __future__ import annotations

import re

from .delimiters import Delimiters
from .errors import Code, ContentError, Issue, Location, RejectError, warning
from .escape import scan
from .message import Message, Segment

DEFAULT_MAX_SEGMENTS = 10_000

# C0 controls other than TAB, LF and CR; DEL; C1 controls (0x80-0x9F, mislabelled cp1252).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SEGMENT_ID = re.compile("[A-Z][A-Z0-9]{2}")
_BATCH = ("FHS", "BHS", "FTS", "BTS")
_BASE64 = re.compile("[A-Za-z0-9+/=]+")


def parse(text: str, *, max_segments: int = DEFAULT_MAX_SEGMENTS) -> Message:
    """Parse one ER7 message.

    Raises:
        RejectError: AR for what makes the message unreadable (no MSH, bad encoding
            characters, a batch, several messages in one frame).
        ContentError: AE for bad content (control characters, bad segment IDs, too many
            segments).
    """
    warnings: list[Issue] = []
    if text[:1] in ("\r", "\n", " ", "\t"):
        text = text.lstrip("\r\n \t")
        warnings.append(_w("blancs avant MSH ignorés", "leading blank lines or spaces ignored"))
    if not text.startswith("MSH"):
        seg = text[:3]
        if seg in _BATCH:
            raise RejectError.at(
                Code.UNSUPPORTED_MESSAGE_TYPE,
                Location(seg, 1),
                "lots FHS/BHS non pris en charge",
                "FHS/BHS batches are not supported",
            )
        raise RejectError.at(
            Code.SEGMENT_SEQUENCE,
            Location(seg if _SEGMENT_ID.fullmatch(seg) else "", 1),
            "le premier segment doit être MSH",
            "first segment must be MSH",
        )
    d = Delimiters.from_msh(text)
    if "\n" in text:
        text = _normalize_lf(text, d)
        warnings.append(_w("fins de segment LF/CRLF normalisées en CR", "LF/CRLF segment terminators normalized to CR"))
    if text.count("\r") > max_segments:
        raise ContentError.at(
            Code.VALUE_TOO_LONG,
            Location("MSH", 1),
            f"plus de {max_segments} segments",
            f"more than {max_segments} segments",
        )
    segments = _split(text, d, warnings)
    # Fast path: a message without TAB/LF in its data is printable once CRs are removed.
    if not text.replace("\r", "").isprintable() and _CONTROL.search(text):
        _raise_control(segments)
    if d.escape in text[9:]:
        warnings.extend(_escape_warnings(segments, d))
    return Message(d, segments, warnings)


def _escape_warnings(segments: list[Segment], d: Delimiters) -> list[Issue]:
    """A W issue for each field holding an escape sequence that is kept as sent.

    Raises:
        ContentError: AE 102 at the field when an escape sequence decodes to a control character
            (C0 but TAB, CR and LF; DEL; C1; NUL), as the same character sent raw is.
    """
    out: list[Issue] = []
    for seg in segments:
        start = 3 if seg.id == "MSH" else 1  # MSH-1 and MSH-2 hold the delimiters themselves
        for n in range(start, len(seg.fields)):
            value = seg.fields[n]
            if d.escape not in value:
                continue
            kept, control = scan(value, d)
            if control:  # \X00\, \X1B\…: refused as the same character sent raw is
                raise ContentError.at(
                    Code.DATA_TYPE,
                    Location(seg.id, seg.sequence, n),
                    "caractère de contrôle interdit (échappé)",
                    "forbidden control character (escaped)",
                )
            if kept:
                out.append(
                    warning(
                        Code.OTHER,
                        Location(seg.id, seg.sequence, n),
                        "séquence d'échappement inconnue conservée",
                        "unknown escape sequence kept as sent",
                        "er7",
                    )
                )
    return out


def _w(fr: str, en: str) -> Issue:
    return warning(Code.OTHER, Location("MSH", 1), fr, en, "er7")


def _normalize_lf(text: str, d: Delimiters) -> str:
    """CRLF -> CR; a bare LF is a terminator when a segment starts after it, else data."""
    text = text.replace("\r\n", "\r")
    fs = re.escape(d.field)
    return re.sub(rf"\n(?=[A-Za-z0-9]{{2,4}}(?:{fs}|\r|\n|$)|\r|\n|$)", "\r", text)


def _split(text: str, d: Delimiters, warnings: list[Issue]) -> list[Segment]:
    fs = d.field
    lines = text.split("\r")
    while lines and not lines[-1]:
        lines.pop()
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    blank = False
    tail: list[str] = []  # lines continuing the last segment's ED value, joined once
    open_ed = False  # the last segment is an OBX whose ED value a bare CR may have cut
    for line in lines:
        if not line:
            blank = True
            continue
        fields = line.split(fs)
        seg_id = fields[0]
        if open_ed and not _SEGMENT_ID.fullmatch(seg_id) and _BASE64.fullmatch(seg_id):
            # A bare CR inside an OBX-5 ED base64 payload (seen in real RIS traffic): base64 has
            # no CR, so the line is the rest of that OBX.
            tail.append(line)
            open_ed = len(fields) == 1
            continue
        if tail:
            _join_tail(segments, tail, d, warnings)
        segments.append(_segment(fields, counts, len(segments), d))
        open_ed = seg_id == "OBX" and len(fields) == 6 and fields[2] == "ED"
    if tail:
        _join_tail(segments, tail, d, warnings)
    if blank:
        warnings.append(_w("lignes vides ignorées", "blank segments ignored"))
    return segments


def _segment(fields: list[str], counts: dict[str, int], before: int, d: Delimiters) -> Segment:
    """One segment line, checked: a valid ID, one MSH, no batch envelope."""
    seg_id = fields[0]
    if not _SEGMENT_ID.fullmatch(seg_id):
        raise ContentError.at(
            Code.SEGMENT_SEQUENCE,
            Location(seg_id[:8], before + 1),
            "identifiant de segment invalide",
            "invalid segment ID",
        )
    seq = counts.get(seg_id, 0) + 1
    counts[seg_id] = seq
    if seg_id == "MSH":
        if seq > 1:
            raise RejectError.at(
                Code.SEGMENT_SEQUENCE,
                Location("MSH", seq),
                "plusieurs messages dans une trame",
                "several messages in one frame",
            )
        fields.insert(1, d.field)
    elif seg_id in _BATCH:
        raise RejectError.at(
            Code.UNSUPPORTED_MESSAGE_TYPE,
            Location(seg_id, seq),
            "lots FHS/BHS non pris en charge",
            "FHS/BHS batches are not supported",
        )
    return Segment(fields, seq, d)


def _join_tail(segments: list[Segment], tail: list[str], d: Delimiters, warnings: list[Issue]) -> None:
    """Join the continuation lines of the last OBX's ED value once (linear in the message), with one W."""
    prev = segments[-1]
    joined = d.field.join(prev.fields) + "".join(tail)
    segments[-1] = Segment(joined.split(d.field), prev.sequence, d)
    tail.clear()
    warnings.append(
        warning(
            Code.OTHER,
            Location("OBX", prev.sequence, 5),
            "CR nu dans une valeur ED base64 retiré",
            "bare CR inside an ED base64 value removed",
            "er7",
        )
    )


def _raise_control(segments: list[Segment]) -> None:
    for seg in segments:
        for n, value in enumerate(seg.fields):
            if _CONTROL.search(value):
                raise ContentError.at(
                    Code.DATA_TYPE,
                    Location(seg.id, seg.sequence, n or None),
                    "caractère de contrôle interdit",
                    "forbidden control character",
                )
    raise ContentError.at(  # pragma: no cover - the search above always finds it
        Code.DATA_TYPE, Location(), "caractère de contrôle interdit", "forbidden control character"
    )
