"""Partner declarations as written in config.yaml or a partners file, validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DOMAINS = ("lab", "pharmacy", "imaging", "registry", "consultation", "privacy")
# consultation: practitioners read the shared record through the FHIR channel; privacy: the
# access lists (FHIR AuditEvent), for the systems that answer patients' requests.
Domain = Literal["lab", "pharmacy", "imaging", "registry", "consultation", "privacy"]
Category = Literal["government", "private-ramq", "private-msss-approved", "private-other", "insurer", "data-vault"]


OrganizationType = Literal[
    "hospital",
    "medical-biology-lab",
    "imaging-department",
    "private-imaging-lab",
    "community-pharmacy",
    "clinic",
    "government-system",
]
# What each type of organization may feed, after the source documents: medication from a place
# where a pharmacist practises, lab results from a medical biology lab, imaging from an imaging
# department; a hospital holds all three and keeps its patient index (the `registry` domain:
# ADT^A40 merges); a clinic consults and feeds nothing. Every type may consult, through the
# certified application of a place where practitioners work; only a government system answers
# patients' requests for their access list.
TYPE_DOMAINS: dict[str, frozenset[str]] = {
    "hospital": frozenset({"lab", "pharmacy", "imaging", "registry", "consultation"}),
    "medical-biology-lab": frozenset({"lab", "consultation"}),
    "imaging-department": frozenset({"imaging", "consultation"}),
    "private-imaging-lab": frozenset({"imaging", "consultation"}),
    "community-pharmacy": frozenset({"pharmacy", "consultation"}),
    "clinic": frozenset({"consultation"}),
    "government-system": frozenset({"lab", "pharmacy", "imaging", "registry", "consultation", "privacy"}),
}
# An assigning authority as written in PID-3.4 (CX-4.1 namespace or CX-4.2 universal id).
AUTHORITY = r"^[^|^~\\&\s](?:[^|^~\\&]{0,62}[^|^~\\&\s])?$"


class RegistryError(Exception):
    """An admin request the registry refuses; the text says why."""


class Product(BaseModel):
    """The partner's product and version (certification is per product version)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    version: str


class IdentitySpec(BaseModel):
    """A TLS certificate fingerprint, an (MSH-3, MSH-4) pair, or a signing key (consulting systems)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sending_application: str | None = None
    sending_facility: str | None = None
    certificate_sha256: Annotated[str | None, Field(pattern=r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")] = None
    public_key: str | None = None  # PEM: an EC P-256 key (ES256) or an RSA key of 2048 bits or more (RS256)

    @model_validator(mode="after")
    def _one_kind(self) -> IdentitySpec:
        msh = self.sending_application is not None or self.sending_facility is not None
        if msh + (self.certificate_sha256 is not None) + (self.public_key is not None) != 1:
            raise ValueError("give one of sending_application + sending_facility, certificate_sha256 or public_key")
        if msh and (not self.sending_application or self.sending_facility is None):
            raise ValueError("sending_application and sending_facility go together (the facility may be empty)")
        return self

    @field_validator("public_key")
    @classmethod
    def _canonical_key(cls, value: str | None) -> str | None:
        return None if value is None else signing_key_pem(value)

    def key(self) -> tuple[str, str]:
        """(kind, value) as stored."""
        if self.certificate_sha256:
            return ("certificate", self.certificate_sha256.upper())
        if self.public_key:
            return ("public_key", self.public_key)
        return ("msh", msh_key(self.sending_application or "", self.sending_facility or ""))


def signing_key_pem(pem: str) -> str:
    """A consulting system's public key in one canonical PEM form (SubjectPublicKeyInfo).

    Raises:
        ValueError: not a PEM public key, or not one the channel verifies (EC P-256, RSA >= 2048).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError("public_key: not a PEM public key") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("public_key: an EC key must be on P-256 (ES256)")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("public_key: an RSA key needs 2048 bits or more (RS256)")
    else:
        raise ValueError("public_key: only EC P-256 (ES256) and RSA (RS256) keys are taken")
    out = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return out.decode("ascii")


class PartnerSpec(BaseModel):
    """One entry of `partners:` in config.yaml or of a partners file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    name: str
    organization: str  # an id of the organization register
    category: Category
    domains: list[Domain]
    channels: list[str] = []
    product: Product
    identities: list[IdentitySpec] = []
    # PID-3.4 assigning authorities it may assign; an empty PID-3.4 is read as the first one.
    authorities: list[Annotated[str, Field(pattern=AUTHORITY)]] = []


def msh_key(application: str, facility: str) -> str:
    """The stored form of an (MSH-3.1, MSH-4.1) identity."""
    return f"{application}|{facility}"


def read_specs(data: Any, base: Path) -> list[PartnerSpec]:
    """`partners:` as a list, or as ``{file: partners.yaml}`` relative to `base`.

    Raises:
        RegistryError: the file is missing, or an entry is invalid (one line naming it).
    """
    if isinstance(data, dict) and set(data) == {"file"}:
        path = base / str(data["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except FileNotFoundError:
            raise RegistryError(f"{path}: file not found") from None
    if not isinstance(data, list):
        raise RegistryError("partners: expected a list, or {file: partners.yaml}")
    specs = []
    for n, item in enumerate(data):
        try:
            specs.append(PartnerSpec.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise RegistryError(f"partners.{n}.{where}: {err['msg']}") from None
    return specs
