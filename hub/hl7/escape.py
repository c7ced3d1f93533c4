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
        decoded = _decode(body, d, warnings)
        out.append(value[start : end + 1] if decoded is None else decoded)
        i = end + 1
    return "".join(out)


def _decode(body: str, d: Delimiters, warnings: list[str] | None) -> str | None:
    simple = {
        "F": d.field,
        "S": d.component,
        "T": d.subcomponent,
        "R": d.repetition,
        "E": d.escape,
    }
    if body in simple:
        return simple[body]
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
