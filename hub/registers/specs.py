"""Organization and practitioner declarations, as written in config.yaml or a YAML file, validated with pydantic.

Both are read like `partners:` (`hub.governance.specs.read_specs`): a list, or ``{file: x.yaml}``
relative to the file that names it; an invalid entry is refused with one line naming it
(``organizations.2.type: Input should be ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.governance.specs import TYPE_DOMAINS, OrganizationType, RegistryError

__all__ = [
    "CODE_KINDS",
    "OrganizationCodes",
    "OrganizationSpec",
    "PractitionerSpec",
    "read_entries",
    "read_organizations",
    "read_practitioners",
]

ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# A value that goes into an HL7 field as is: no delimiter, no surrounding blank.
HL7_VALUE = r"^[^|^~\\&\s](?:[^|^~\\&]*[^|^~\\&\s])?$"
SHA256 = r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$"
# The stored kind of each list of OrganizationCodes (organization_codes.kind).
CODE_KINDS = {
    "facility": "facility",
    "performing": "performing",
    "location": "location",
    "accession_issuer": "accession-issuer",
}

Code = Annotated[str, Field(pattern=HL7_VALUE)]
Model = TypeVar("Model", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganizationCodes(_Strict):
    """The codes that name an organization in what it sends."""

    facility: list[Code] = []  # MSH-4
    performing: list[Code] = []  # OBR/OBX performing-organization codes
    location: list[Code] = []  # PV1-3 point of care / facility
    accession_issuer: list[Code] = []  # DICOM Issuer of Accession Number, local namespace

    def pairs(self) -> set[tuple[str, str]]:
        """(kind, value) as stored in organization_codes."""
        return {(kind, value) for name, kind in CODE_KINDS.items() for value in getattr(self, name)}


class OrganizationSpec(_Strict):
    """One entry of `organizations:`."""

    id: Annotated[str, Field(pattern=ID)]
    name: Annotated[str, Field(min_length=1)]
    type: OrganizationType
    codes: OrganizationCodes = OrganizationCodes()

    @property
    def domains(self) -> frozenset[str]:
        """What an organization of this type may feed."""
        return TYPE_DOMAINS[self.type]


class PractitionerSpec(_Strict):
    """One entry of `practitioners:`."""

    id: Annotated[str, Field(pattern=ID)]
    licence: Annotated[str, Field(pattern=HL7_VALUE)]
    order: Annotated[str, Field(pattern=r"^[A-Z]{2,8}$")]  # CMQ, OPQ, OIIQ, OPIQ, ODQ, OTSTCFQ...
    family: Annotated[str, Field(min_length=1)]
    given: str = ""
    profession: Annotated[str, Field(min_length=1)]
    organizations: list[Annotated[str, Field(pattern=ID)]] = []
    certificates: list[Annotated[str, Field(pattern=SHA256)]] = []
    nam: Annotated[str | None, Field(pattern=r"^[A-Z]{4}[0-9]{8}$")] = None
    state: Literal["active", "suspended", "revoked"] = "active"

    @field_validator("certificates")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [fingerprint.upper() for fingerprint in value]


def read_entries(data: Any, base: Path, key: str, model: type[Model]) -> list[Model]:
    """`key:` as a list, or as ``{file: x.yaml}`` relative to `base`, each entry validated by `model`.

    Raises:
        RegistryError: the file is missing or not YAML, or an entry is invalid (one line naming it).
    """
    if isinstance(data, dict) and set(data) == {"file"}:
        path = base / str(data["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except FileNotFoundError:
            raise RegistryError(f"{path}: file not found") from None
        except yaml.YAMLError:
            raise RegistryError(f"{path}: not valid YAML") from None
    if not isinstance(data, list):
        raise RegistryError(f"{key}: expected a list, or {{file: {key}.yaml}}")
    specs = []
    for n, item in enumerate(data):
        try:
            specs.append(model.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join([key, str(n), *(str(p) for p in err["loc"])])
            raise RegistryError(f"{where}: {err['msg']}") from None
    return specs


def read_organizations(data: Any, base: Path) -> list[OrganizationSpec]:
    """`organizations:` as a list, or ``{file: organizations.yaml}`` (see `read_entries`)."""
    return read_entries(data, base, "organizations", OrganizationSpec)


def read_practitioners(data: Any, base: Path) -> list[PractitionerSpec]:
    """`practitioners:` as a list, or ``{file: practitioners.yaml}`` (see `read_entries`)."""
    return read_entries(data, base, "practitioners", PractitionerSpec)
