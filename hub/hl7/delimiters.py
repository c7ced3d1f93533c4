"""The encoding characters of one message, read from MSH-1 and MSH-2."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Code, Location, RejectError

_FORBIDDEN = frozenset("\r\n\t \x0b\x1c")


@dataclass(frozen=True, slots=True)
class Delimiters:
    """Field, component, repetition, escape, subcomponent and (v2.7+) truncation characters."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def msh2(self) -> str:
        """MSH-2 as it is written back."""
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation

    @classmethod
    def from_msh(cls, text: str) -> Delimiters:
        """Read MSH-1 and MSH-2 from the start of a message (``MSH|^~\\&|...``).

        Raises:
            RejectError: AR 102 when MSH is too short or its encoding characters are unusable.
        """
        if len(text) < 8:
            raise RejectError.at(
                Code.DATA_TYPE, Location("MSH", 1, 2), "segment MSH trop court", "MSH segment too short"
            )
        fs = text[3]
        end = text.find(fs, 4)
        enc = text[4:] if end == -1 else text[4:end]
        for stop in ("\r", "\n"):
            if stop in enc:
                enc = enc[: enc.index(stop)]
        chars = fs + enc
        if (
            len(enc) not in (4, 5)
            or len(set(chars)) != len(chars)
            or any(c in _FORBIDDEN or c.isalnum() for c in chars)
        ):
            field = 1 if (fs in _FORBIDDEN or fs.isalnum()) else 2
            raise RejectError.at(
                Code.DATA_TYPE,
                Location("MSH", 1, field),
                "caractères d'encodage MSH-1/MSH-2 invalides",
                "invalid MSH-1/MSH-2 encoding characters",
            )
        return cls(fs, enc[0], enc[1], enc[2], enc[3], enc[4] if len(enc) == 5 else "")
