"""Reading config.yaml: the file's path, validation with one located error line, relative paths resolved."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hub.governance.partners import RegistryError, read_specs
from hub.registers.specs import read_organizations, read_practitioners

from .model import ENV_CONFIG, ENV_DATABASE_URL, Config, ConfigError


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
    readers: dict[str, Callable[[Any, Path], Sequence[BaseModel]]] = {
        "organizations": read_organizations,
        "practitioners": read_practitioners,
        "partners": read_specs,
    }
    for key, reader in readers.items():
        if key in data:
            try:
                data[key] = [s.model_dump() for s in reader(data[key], path.parent)]
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
    config = config.model_copy(update={"channels": channels})
    export = config.audit_export
    if export is None:
        return config
    files = {k: (base / v).resolve() for k, v in export.tls.model_dump().items() if isinstance(v, Path)}
    for key, file in files.items():
        if not file.is_file():
            raise ConfigError(f"audit_export.tls.{key}: file not found: {file}")
    tls = export.tls.model_copy(update=files)
    return config.model_copy(update={"audit_export": export.model_copy(update={"tls": tls})})


def _resolve_sqlite(config: Config, base: Path) -> Config:
    """A relative SQLite path is relative to the config file, not to the working directory."""
    prefix = "sqlite:///"
    url = config.database.url
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path = (base / url[len(prefix) :]).resolve()
        database = config.database.model_copy(update={"url": prefix + str(path)})
        return config.model_copy(update={"database": database})
    return config
