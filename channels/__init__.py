"""Transports only: they move bytes and metadata to a `hub.interfaces.MessageHandler`.

MLLP is the `channels.mllp` package; SOAP is `channels.soap`, imported on its own so that an
MLLP-only hub never loads twisted.web or lxml. TLS wrapping is `channels.tls`.
"""

from .mllp import Limits, MLLPFactory, MLLPReceiver, frame

__all__ = ["Limits", "MLLPFactory", "MLLPReceiver", "frame"]
