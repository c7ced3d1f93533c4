"""Passerelle, an HL7 v2 hub for a shared health record: see docs/architecture.md for the layout."""

__version__ = "0.1.0"
