"""Partner declarations as written in config.yaml or a partners file, validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DOMAINS = ("lab", "pharmacy", "imaging", "registry")
Domain = Literal["lab", "pharmacy", "imaging", "registry"]
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
# ADT^A40 merges); a clinic consults and feeds nothing.
TYPE_DOMAINS: dict[str, frozenset[str]] = {
    "hospital": frozenset({"lab", "pharmacy", "imaging", "registry"}),
    "medical-biology-lab": frozenset({"lab"}),
    "imaging-department": frozenset({"imaging"}),
    "private-imaging-lab": frozenset({"imaging"}),
    "community-pharmacy": frozenset({"pharmacy"}),
    "clinic": frozenset(),
    "government-system": frozenset({"lab", "pharmacy", "imaging", "registry"}),
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
    """Either a TLS certificate fingerprint or an (MSH-3, MSH-4) pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sending_application: str | None = None
    sending_facility: str | None = None
    certificate_sha256: Annotated[str | None, Field(pattern=r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")] = None

    @model_validator(mode="after")
    def _one_kind(self) -> IdentitySpec:
        msh = self.sending_application is not None or self.sending_facility is not None
        if msh == (self.certificate_sha256 is not None):
            raise ValueError("give either sending_application + sending_facility, or certificate_sha256")
        if msh and (not self.sending_application or self.sending_facility is None):
            raise ValueError("sending_application and sending_facility go together (the facility may be empty)")
        return self

    def key(self) -> tuple[str, str]:
        """(kind, value) as stored."""
        if self.certificate_sha256:
            return ("certificate", self.certificate_sha256.upper())
        return ("msh", msh_key(self.sending_application or "", self.sending_facility or ""))


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
