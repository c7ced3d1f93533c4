"""HL7 v2 escape sequences (chapter 2.7): decode on read, encode on write.

Decoded: the delimiter escapes ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` (and ``\\P\\``, the v2.7
truncation character), ``\\Xhh..\\`` hex data, ``\\.br\\`` line breaks and ``\\.sp\\``.
Kept as sent, without warning: the other formatting commands (``\\H\\ \\N\\ \\.fi\\`` ...),
which have no plain-text meaning. Kept as sent, with a warning: anything else, including a
lone or unterminated escape character. The scan is linear: no regular expression backtracks.
"""

from __future__ import annotations

from .delimiters import Delimiters

_FORMATTING = frozenset({"H", "N", ".fi", ".nf", ".in", ".ti", ".sk", ".ce"})
_PREFIX_KEPT = ("C", "M", "Z", ".in", ".ti", ".sk")
# Bytes a hex escape may not decode to: C0 but TAB (09), LF (0A) and CR (0D); DEL; C1 (latin-1 80-9F).
_CONTROL_BYTE = tuple((b < 0x20 and b not in (0x09, 0x0A, 0x0D)) or 0x7F <= b <= 0x9F for b in range(256))


def unescape(value: str, d: Delimiters, warnings: list[str] | None = None) -> str:
    """Decode the escape sequences in one primitive value.

    Args:
        value: the raw text of one component or subcomponent.
        d: the message's delimiters.
        warnings: where to append a short note for each sequence kept as sent.
    """
    esc = d.escape
    if not esc or esc not in value:
        return value
    out: list[str] = []
    simple = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition, "E": esc}
    i = 0
    n = len(value)
    while i < n:
        start = value.find(esc, i)
        if start == -1:
            out.append(value[i:])
            break
        out.append(value[i:start])
        end = value.find(esc, start + 1)
        if end == -1:
            _note(warnings, "unterminated escape sequence kept")
            out.append(value[start:])
            break
        body = value[start + 1 : end]
        decoded = simple.get(body)
        if decoded is None:
            decoded = _decode(body, d, warnings)
        out.append(value[start : end + 1] if decoded is None else decoded)
        i = end + 1
    return "".join(out)


def _decode(body: str, d: Delimiters, warnings: list[str] | None) -> str | None:
    """A sequence that is not one of the five delimiter escapes (those are looked up by `unescape`)."""
    if body == "P" and d.truncation:
        return d.truncation
    if body == ".br":
        return "\n"
    if body.startswith(".sp"):
        count = body[3:].strip() or "1"
        return "\n" * int(count) if count.isdigit() and int(count) < 100 else None
    if body.startswith("X") and len(body) > 1:
        return _hex(body[1:], warnings)
    if body in _FORMATTING or (body.startswith(_PREFIX_KEPT) and len(body) > 1):
        return None
    _note(warnings, "unknown escape sequence kept")
    return None


def _hex(digits: str, warnings: list[str] | None) -> str | None:
    if len(digits) % 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        _note(warnings, "malformed hex escape kept")
        return None
    return bytes.fromhex(digits).decode("latin-1")


def _note(warnings: list[str] | None, text: str) -> None:
    if warnings is not None and text not in warnings:
        warnings.append(text)


def scan(value: str, d: Delimiters) -> tuple[bool, bool]:
    """What decoding `value` would meet, without decoding it.

    Returns (a sequence kept as sent, with a warning; a hex escape that decodes to a control
    character: C0 but TAB, LF and CR, DEL, C1). The same classification as `unescape`, in one
    pass that builds no text: the parser runs it on every field holding the escape character.
    """
    esc = d.escape
    kept = False
    i = value.find(esc)
    while i != -1:
        end = value.find(esc, i + 1)
        if end == -1:
            return True, False  # unterminated: kept as sent
        body = value[i + 1 : end]
        if len(body) == 1 and body in "FSTRE":
            pass
        elif body.startswith("X") and len(body) > 1:
            digits = body[1:]
            if len(digits) % 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                kept = True
            elif any(
                b < 0x09 or 0x0A < b < 0x0D or 0x0D < b < 0x20 or 0x7F <= b <= 0x9F for b in bytes.fromhex(digits)
            ):
                return kept, True
        elif not _known(body, d):
            kept = True
        i = value.find(esc, end + 1)
    return kept, False


def _known(body: str, d: Delimiters) -> bool:
    """A sequence `unescape` decodes, or keeps without a warning (formatting commands)."""
    if body == "P" and d.truncation:
        return True
    if body == ".br":
        return True
    if body.startswith(".sp"):
        count = body[3:].strip() or "1"
        return count.isdigit() and int(count) < 100
    return body in _FORMATTING or (body.startswith(_PREFIX_KEPT) and len(body) > 1)


def escape(value: str, d: Delimiters) -> str:
    """Encode text so that it survives as one primitive value; inverse of `unescape`."""
    esc = d.escape
    specials = {esc, d.field, d.component, d.subcomponent, d.repetition, "\n", "\r"}
    if d.truncation:
        specials.add(d.truncation)
    if not any(c in value for c in specials) and value.isprintable():
        return value
    table = {
        esc: f"{esc}E{esc}",
        d.field: f"{esc}F{esc}",
        d.component: f"{esc}S{esc}",
        d.subcomponent: f"{esc}T{esc}",
        d.repetition: f"{esc}R{esc}",
        "\n": f"{esc}.br{esc}",
        "\r": f"{esc}X0D{esc}",
    }
    if d.truncation:
        table[d.truncation] = f"{esc}P{esc}"
    return "".join(table.get(c) or (_hex_escape(c, esc) if _is_control(c) else c) for c in value)


def _is_control(c: str) -> bool:
    """C0 controls, DEL and C1 controls: never written raw into a message."""
    o = ord(c)
    return o < 0x20 or 0x7F <= o <= 0x9F


def _hex_escape(c: str, esc: str) -> str:
    """A control character as an HL7 hex escape (\\Xhh\\)."""
    return f"{esc}X{ord(c):02X}{esc}"
