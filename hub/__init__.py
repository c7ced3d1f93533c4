"""Passerelle's engine: config, pipeline, journal, store, service, CLI. See ARCHITECTURE.md."""

__version__ = "0.1.0"
