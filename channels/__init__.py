"""Transports only: they move bytes and metadata to a `hub.interfaces.MessageHandler`."""

from .mllp import Limits, MLLPFactory, MLLPReceiver, frame

__all__ = ["Limits", "MLLPFactory", "MLLPReceiver", "frame"]
