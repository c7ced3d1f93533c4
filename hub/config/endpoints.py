"""Twisted endpoint strings as the configuration needs them: their interface, and a SOAP channel's address."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ChannelConfig


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
    return channel.public_url or _address(channel, "/hl7")


def fhir_base(channel: ChannelConfig) -> str:
    """A FHIR channel's base address, for the Bundles' fullUrl: `public_url`, else from `listen` as SOAP's."""
    return (channel.public_url or _address(channel, "/fhir")).rstrip("/")


def _address(channel: ChannelConfig, path: str) -> str:
    kind, args, kwargs = _endpoint_parts(channel.listen)
    port = kwargs.get("port") or (args[0] if kind in ("tcp", "tcp6", "ssl") and args else "")
    interface = kwargs.get("interface") or (args[1] if kind in ("tcp", "tcp6") and len(args) > 1 else "")
    if interface in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard names no address to publish
        interface = "127.0.0.1"
    host = f"[{interface}]" if ":" in interface else interface
    scheme = "https" if channel.tls is not None or kind == "ssl" else "http"
    return f"{scheme}://{host}{':' + port if port.isdigit() else ''}{path}"


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
