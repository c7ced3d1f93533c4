"""Transports only: they move bytes and metadata to a `hub.interfaces.MessageHandler`.

MLLP is here (`channels.mllp`); the SOAP channel is the `channels.soap` package, imported on
its own so that an MLLP-only hub never loads twisted.web or lxml.
"""

from .mllp import Limits, MLLPFactory, MLLPReceiver, frame

__all__ = ["Limits", "MLLPFactory", "MLLPReceiver", "frame"]
