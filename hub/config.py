"""config.yaml, validated at start: a wrong key or value gets one line that names it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.governance.partners import PartnerSpec, RegistryError, read_specs
from mappings import ROUTES

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
    protocol: Literal["mllp", "soap"]  # soap: twisted.web at /hl7, WSDL at /hl7?wsdl
    listen: str
    domain: str
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

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str) -> str:
        if value not in ROUTES:
            raise ValueError(f"unknown domain {value!r} (known: {', '.join(sorted(ROUTES))})")
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


def listens_on_loopback(listen: str) -> bool:
    """Whether a Twisted endpoint string names a loopback interface (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    kind, args, kwargs = _endpoint_parts(listen)
    if kind == "unix":
        return True
    interface = kwargs.get("interface") or (args[1] if kind in ("tcp", "tcp6") and len(args) > 1 else "")
    if interface == "localhost":
        return True
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return False


def soap_location(channel: ChannelConfig) -> str:
    """The service address a SOAP channel publishes in its WSDL (never a request's Host header).

    `public_url` when set; else ``http(s)://<interface>:<port>/hl7`` from `listen`, a Twisted
    endpoint string such as ``tcp:8080:interface=127.0.0.1``: https when the channel has `tls`
    (or listens on an ``ssl:`` endpoint), 127.0.0.1 when no interface or a wildcard one is named.
    """
    if channel.public_url:
        return channel.public_url
    kind, args, kwargs = _endpoint_parts(channel.listen)
    port = kwargs.get("port") or (args[0] if kind in ("tcp", "tcp6", "ssl") and args else "")
    interface = kwargs.get("interface") or (args[1] if kind in ("tcp", "tcp6") and len(args) > 1 else "")
    if interface in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard names no address to publish
        interface = "127.0.0.1"
    host = f"[{interface}]" if ":" in interface else interface
    scheme = "https" if channel.tls is not None or kind == "ssl" else "http"
    return f"{scheme}://{host}{':' + port if port.isdigit() else ''}/hl7"


def _endpoint_parts(description: str) -> tuple[str, list[str], dict[str, str]]:
    """A Twisted endpoint string split as Twisted does: kind, positional and keyword arguments.

    ``:`` separates arguments, the first ``=`` of one makes it a keyword, a backslash escapes
    the next character (``tcp:8080:interface=\\:\\:1`` listens on ``::1``).
    """
    parts: list[tuple[str | None, str]] = []
    key: str | None = None
    current = ""
    chars = iter(description)
    for ch in chars:
        if ch == "\\":
            current += next(chars, "")
        elif ch == ":":
            parts.append((key, current))
            key, current = None, ""
        elif ch == "=" and key is None:
            key, current = current, ""
        else:
            current += ch
    parts.append((key, current))
    kind = parts[0][1].lower() if parts[0][0] is None else ""
    args = [value for name, value in parts[1:] if name is None]
    kwargs = {name: value for name, value in parts[1:] if name is not None}
    return kind, args, kwargs


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
    channels: list[ChannelConfig] = []
    partners: list[PartnerSpec] = []

    @model_validator(mode="after")
    def _unique_channels(self) -> Config:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate channel name {dupes[0]!r}")
        return self


def config_path(explicit: str | None = None) -> Path:
    """--config, then $PASSERELLE_CONFIG, then ./config.yaml."""
    return Path(explicit or os.environ.get(ENV_CONFIG) or "config.yaml")


def load(path: Path) -> Config:
    """Read and validate the file, apply the environment overrides.

    Raises:
        ConfigError: one line naming the file and the wrong key or value.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    if "partners" in data:
        try:
            data["partners"] = [s.model_dump() for s in read_specs(data["partners"], path.parent)]
        except RegistryError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    url = os.environ.get(ENV_DATABASE_URL)
    if url:
        data.setdefault("database", {})
        if isinstance(data["database"], dict):
            data["database"]["url"] = url
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None
    return _resolve_tls(_resolve_sqlite(config, path.parent), path.parent)


def _resolve_tls(config: Config, base: Path) -> Config:
    """TLS file paths are relative to the config file, and must exist."""
    channels = []
    for channel in config.channels:
        if channel.tls is None:
            channels.append(channel)
            continue
        files = {k: (base / v).resolve() for k, v in channel.tls.model_dump().items() if isinstance(v, Path)}
        for key, file in files.items():
            if not file.is_file():
                raise ConfigError(f"channels.{channel.name}.tls.{key}: file not found: {file}")
        channels.append(channel.model_copy(update={"tls": channel.tls.model_copy(update=files)}))
    return config.model_copy(update={"channels": channels})


def _resolve_sqlite(config: Config, base: Path) -> Config:
    """A relative SQLite path is relative to the config file, not to the working directory."""
    prefix = "sqlite:///"
    url = config.database.url
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path = (base / url[len(prefix) :]).resolve()
        database = config.database.model_copy(update={"url": prefix + str(path)})
        return config.model_copy(update={"database": database})
    return config
