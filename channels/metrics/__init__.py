"""The metrics channel: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` on twisted.web."""

from .resource import site

__all__ = ["site"]
