"""config.yaml, validated at start: a wrong key or value gets one line that names it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from hub.governance.partners import PartnerSpec
from hub.registers.specs import OrganizationSpec, PractitionerSpec
from mappings import ROUTES

from .endpoints import listens_on_loopback

ENV_CONFIG = "PASSERELLE_CONFIG"
ENV_DATABASE_URL = "PASSERELLE_DATABASE_URL"


class ConfigError(Exception):
    """A configuration problem, worded for the admin who edits config.yaml."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubIdentity(_Strict):
    """What the hub puts in its ACKs' MSH-3/MSH-4 when the inbound MSH-5/MSH-6 are empty."""

    application: str = "PASSERELLE"
    facility: str = "DSQ"


class DatabaseConfig(_Strict):
    """The central repository."""

    url: str = "sqlite:///var/passerelle.db"
    busy_timeout_ms: Annotated[int, Field(ge=0)] = 5000  # SQLite, and the hub writers' lock beside it
    # PostgreSQL: how long to wait before an attempt fails with AR 207 and the writer goes on
    connect_timeout_s: Annotated[int, Field(ge=1)] = 10
    statement_timeout_ms: Annotated[int, Field(ge=0)] = 30_000  # 0: none
    lock_timeout_ms: Annotated[int, Field(ge=0)] = 10_000  # 0: none
    keepalives_idle_s: Annotated[int, Field(ge=1)] = 30


class IntakeConfig(_Strict):
    """The group-commit writer."""

    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 500
    # how long the writer waits for the senders it just answered before committing (0: never)
    gather_ms: Annotated[float, Field(ge=0, le=50)] = 1.0
    # frames waiting for the writer, all channels together, before the listeners stop reading
    max_queued: Annotated[int, Field(ge=1, le=1_000_000)] = 5000


class TLSConfig(_Strict):
    """Mutual TLS on a listener: our certificate and key, the CA that signs partners' certificates."""

    certificate: Path
    key: Path
    ca: Path | None = None
    client_certificate: Literal["required", "optional"] = "required"

    @model_validator(mode="after")
    def _ca_for_clients(self) -> TLSConfig:
        if self.client_certificate == "required" and self.ca is None:
            raise ValueError("client_certificate: required needs ca: the CA that signs partners' certificates")
        return self


class SecurityConfig(_Strict):
    """Refused link attempts, per peer address: a token bucket."""

    refused_per_minute: Annotated[float, Field(gt=0)] = 10.0
    refused_burst: Annotated[int, Field(ge=1)] = 10


class ExclusionConfig(_Strict):
    """A category of tests or exams this channel does not communicate (AA, journaled as filtered)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    description: str = ""
    codes: tuple[str, ...] = ()  # "CODE" or "SYSTEM:CODE", e.g. "LN:94500-6"
    sections: tuple[str, ...] = ()  # OBR-24 diagnostic service sections, e.g. "GE"

    @model_validator(mode="after")
    def _something(self) -> ExclusionConfig:
        if not self.codes and not self.sections:
            raise ValueError(f"exclusion {self.id!r} names no codes and no sections")
        return self


class ChannelConfig(_Strict):
    """One listener: where it listens, which domain it feeds, its limits."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    # soap: twisted.web at /hl7, WSDL at /hl7?wsdl; fhir: the consultation channel (domain consultation);
    # metrics: /metrics, /healthz and /readyz; console: the admin console (neither has a domain)
    protocol: Literal["mllp", "soap", "fhir", "metrics", "console"]
    listen: str
    domain: str = ""
    max_frame_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    idle_timeout: Annotated[float, Field(gt=0)] = 300.0
    max_connections: Annotated[int, Field(ge=1)] = 200
    max_connections_per_peer: Annotated[int, Field(ge=1)] = 20
    default_charset: str = "utf-8"
    processing_ids: tuple[Literal["P", "T", "D"], ...] = ("P",)
    max_segments: Annotated[int, Field(ge=1)] = 10_000
    fs_grace: Annotated[float, Field(ge=0)] = 0.2
    frame_timeout: Annotated[float, Field(gt=0)] = 30.0  # a frame must end this long after its first byte
    tls: TLSConfig | None = None
    # e.g. tgv-lab-2026.1 (certification/rulesets/); unset: the domain's current rule set; "none": off
    ruleset: str | None = None
    allow_plaintext: bool = False  # a listener on a non-loopback interface without tls: only on purpose
    emergency: bool = False  # fhir: ETREAT (emergency) allowed, each use journaled as a security event
    certification: bool = False  # a certification channel: T traffic, never stored clinically
    exclusions: tuple[ExclusionConfig, ...] = ()
    max_document_bytes: Annotated[int, Field(ge=1)] = 8_388_608  # an OBX ED document, decoded
    public_url: Annotated[
        str | None,
        Field(
            pattern=r"^https?://[^\s/?#]+[^\s?#]*$",
            description=(
                "SOAP: the address published in the WSDL; default "
                "http(s)://<listen interface or 127.0.0.1>:<port>/hl7 (see soap_location)"
            ),
        ),
    ] = None  # SOAP behind a proxy or on all interfaces: the address partners are to use

    @field_validator("ruleset")
    @classmethod
    def _known_ruleset(cls, value: str | None) -> str | None:
        if value is not None and value != "none":
            from certification.ruleset import RuleSetError, load_ruleset

            try:
                load_ruleset(value)
            except RuleSetError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _validation_on(cls, data: Any) -> Any:
        """A channel without `ruleset` gets its domain's current rule set (`ruleset: none` turns it off)."""
        if isinstance(data, dict) and data.get("ruleset") is None and data.get("domain") in ROUTES:
            from certification.ruleset import current_ruleset

            data = {**data, "ruleset": current_ruleset(str(data["domain"]))}
        return data

    @model_validator(mode="after")
    def _plaintext_on_purpose(self) -> ChannelConfig:
        """Plain text only on a loopback interface, or with allow_plaintext."""
        if self.tls is None and not self.allow_plaintext and not listens_on_loopback(self.listen):
            raise ValueError(
                f"channel {self.name!r} listens on a non-loopback interface without tls:"
                " add a tls block, or allow_plaintext: true on purpose"
            )
        return self

    @property
    def validates(self) -> bool:
        """False when `ruleset: none` turned validation off."""
        return self.ruleset not in (None, "none")

    @model_validator(mode="after")
    def _fhir_consults(self) -> ChannelConfig:
        """A fhir channel serves the consultation domain, and only it does."""
        if (self.protocol == "fhir") != (self.domain == "consultation"):
            raise ValueError(f"channel {self.name!r}: protocol fhir goes with domain consultation, and only with it")
        if (self.protocol in ("metrics", "console")) != (self.domain == ""):
            raise ValueError(
                f"channel {self.name!r}: a metrics or console channel has no domain; every other channel needs one"
            )
        if self.emergency and self.protocol != "fhir":
            raise ValueError(f"channel {self.name!r}: emergency is a fhir channel's setting")
        return self

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str) -> str:
        if value not in ("", "consultation") and value not in ROUTES:
            raise ValueError(f"unknown domain {value!r} (known: {', '.join(sorted([*ROUTES, 'consultation']))})")
        return value

    @field_validator("default_charset")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown character set {value!r}") from None
        return value


class ExportTLSConfig(_Strict):
    """TLS to the audit collector (RFC 5425): the CA that signs it, and our client certificate."""

    ca: Path
    certificate: Path | None = None
    key: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> ExportTLSConfig:
        if (self.certificate is None) != (self.key is None):
            raise ValueError("certificate and key go together: the client certificate ATNA authenticates us with")
        return self


class AuditExportConfig(_Strict):
    """Security events to an ATNA audit record repository: syslog over TLS."""

    collector: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")]  # host:port (6514 is syslog over TLS)
    tls: ExportTLSConfig
    format: Literal["dicom", "fhir"] = "dicom"  # DICOM PS3.15 AuditMessage, or FHIR AuditEvent JSON
    hostname: str = ""  # HOSTNAME of the syslog header; empty: this machine's name
    enterprise_number: Annotated[int, Field(ge=1)] = 32473  # the SD-ID's IANA number (32473: documentation)
    batch: Annotated[int, Field(ge=1, le=10_000)] = 200  # events per connection
    poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    retry_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0  # after a failure, doubling up to 60
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0


class LoggingConfig(_Strict):
    """structlog JSON lines on standard error."""

    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(_Strict):
    """The whole file."""

    hub: HubIdentity = HubIdentity()
    database: DatabaseConfig = DatabaseConfig()
    intake: IntakeConfig = IntakeConfig()
    logging: LoggingConfig = LoggingConfig()
    charset_aliases: dict[str, str] = {}
    security: SecurityConfig = SecurityConfig()
    audit_export: AuditExportConfig | None = None
    channels: list[ChannelConfig] = []
    organizations: list[OrganizationSpec] = []
    practitioners: list[PractitionerSpec] = []
    partners: list[PartnerSpec] = []

    @model_validator(mode="after")
    def _unique_channels(self) -> Config:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate channel name {dupes[0]!r}")
        return self

    @model_validator(mode="after")
    def _declared_organizations(self) -> Config:
        """Ids are unique per register; partners and practitioners name declared organizations only."""
        for key in ("organizations", "practitioners", "partners"):
            ids = [entry.id for entry in getattr(self, key)]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise _register_error(f"{key}: duplicate id {dupes[0]!r}")
        declared = {o.id for o in self.organizations}
        for n, partner in enumerate(self.partners):
            if partner.organization not in declared:
                raise _register_error(f"partners.{n}.organization: {partner.organization!r} {UNDECLARED}")
        for n, person in enumerate(self.practitioners):
            for m, org in enumerate(person.organizations):
                if org not in declared:
                    raise _register_error(f"practitioners.{n}.organizations.{m}: {org!r} {UNDECLARED}")
        return self


UNDECLARED = "is not declared in organizations"


def _register_error(message: str) -> PydanticCustomError:
    """A config error whose text is `message` itself (a ValueError's would start "Value error, ")."""
    return PydanticCustomError("register", "{message}", {"message": message})
