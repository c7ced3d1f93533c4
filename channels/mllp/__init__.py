"""MLLP (release 1) over Twisted: framing, the per-connection receiver, the listener's factory."""

from .factory import MakeFactory, MLLPFactory
from .framing import CR, FS, LF, MAX_PENDING, OVERSIZE_KEEP, VT, Limits, frame
from .receiver import MLLPReceiver

__all__ = [
    "CR",
    "FS",
    "LF",
    "MAX_PENDING",
    "OVERSIZE_KEEP",
    "VT",
    "Limits",
    "MLLPFactory",
    "MLLPReceiver",
    "MakeFactory",
    "frame",
]
