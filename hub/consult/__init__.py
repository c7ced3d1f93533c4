"""The read side: authorize a consultation, apply the patient's refusals, journal it, answer in FHIR."""

from .access import Consult, FhirChannel
from .service import ConsultationService

__all__ = ["Consult", "ConsultationService", "FhirChannel"]
