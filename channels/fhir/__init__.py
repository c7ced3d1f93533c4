"""The consultation channel: FHIR R4 JSON over twisted.web, below ``/fhir``."""

from .resource import FHIRResource, site

__all__ = ["FHIRResource", "site"]
