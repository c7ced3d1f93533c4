"""config.yaml, validated with pydantic: the model, the endpoints it names, how it is read."""

from .endpoints import fhir_base, listens_on_loopback, soap_location
from .loading import config_path, load
from .model import (
    ENV_CONFIG,
    ENV_DATABASE_URL,
    ChannelConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    TLSConfig,
)

__all__ = [
    "ENV_CONFIG",
    "ENV_DATABASE_URL",
    "ChannelConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "TLSConfig",
    "config_path",
    "fhir_base",
    "listens_on_loopback",
    "load",
    "soap_location",
]
