"""MLLP framing bytes and a channel's limits."""

from __future__ import annotations

from dataclasses import dataclass

VT, FS, CR, LF = b"\x0b", b"\x1c", b"\r", b"\n"
_WHITESPACE = frozenset(b" \t\r\n")
OVERSIZE_KEEP = 1024  # bytes of an oversize frame kept for the journal
MAX_PENDING = 64  # frames awaiting their ACK before the connection stops being read


def frame(payload: bytes) -> bytes:
    """Wrap one message in an MLLP block."""
    return VT + payload + FS + CR


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-channel limits of an MLLP listener."""

    max_frame_bytes: int = 1_048_576
    idle_timeout: float = 300.0
    max_connections: int = 200
    max_connections_per_peer: int = 20
    fs_grace: float = 0.2
    frame_timeout: float = 30.0  # from a frame's first byte to its end


DEFAULT_LIMITS = Limits()
