"""Mutual TLS for listeners, with Twisted's TLS: TLS 1.2 at least, BCP 195 cipher suites."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.protocol import connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure

from hub.interfaces import Defect, Inbound, MessageHandler

# RFC 9325 (BCP 195) recommended TLS 1.2 suites: ECDHE with AEAD only. TLS 1.3 suites are
# always AEAD and are left to OpenSSL's defaults.
BCP195_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)


def server_options(certificate: Path, key: Path, ca: Path | None, require_client: bool) -> Any:
    """CertificateOptions for a listener that verifies client certificates against `ca`."""
    cert = crypto.load_certificate(crypto.FILETYPE_PEM, certificate.read_bytes())
    pkey = crypto.load_privatekey(crypto.FILETYPE_PEM, key.read_bytes())
    ca_certs = []
    if ca is not None:
        ca_certs = [ssl.Certificate.loadPEM(block) for block in _pem_blocks(ca.read_bytes())]
    return _Options(
        privateKey=pkey,
        certificate=cert,
        verify=bool(ca_certs),
        caCerts=[c.original for c in ca_certs],
        requireCertificate=require_client and bool(ca_certs),
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(BCP195_CIPHERS),  # type: ignore[no-untyped-call]
    )


# The leaf certificate each connection presented, kept while the connection lives: OpenSSL drops
# a certificate it could not verify, and a failed handshake is journaled with its fingerprint.
_PRESENTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _remember(connection: Any, certificate: Any, _errno: int, depth: int, ok: int) -> bool:
    if depth == 0:
        _PRESENTED[connection] = certificate
    return bool(ok)  # OpenSSL's own verdict stands


class _Options(ssl.CertificateOptions):
    """CertificateOptions whose verification also remembers the client's leaf certificate."""

    def _makeContext(self, skipCiphers: bool = False) -> Any:  # noqa: N803 - Twisted's name
        ctx = super()._makeContext(skipCiphers)
        mode = ctx.get_verify_mode()
        if mode:
            ctx.set_verify(mode, _remember)
        return ctx


class _TLSProtocol(TLSMemoryBIOProtocol):
    """TLS on one connection; a handshake that fails is reported to the engine, to be journaled."""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Report a failed handshake (peer, reason, the certificate's fingerprint if one came)."""
        if not self._handshakeDone:
            factory: Any = self.factory
            factory.report(self, self._reason or reason)
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class _TLSFactory(TLSMemoryBIOFactory):
    """TLS in front of a factory that may refuse a connection (its buildProtocol returns None)."""

    protocol = _TLSProtocol

    def __init__(self, options: Any, wrapped: Any, channel: str, handler: MessageHandler | None) -> None:
        super().__init__(options, False, wrapped)
        self.channel = channel
        self.handler = handler

    def buildProtocol(self, addr: Any) -> Any:
        """The TLS protocol around the inner one, or None when the inner factory refuses."""
        inner = self.wrappedFactory.buildProtocol(addr)
        return None if inner is None else self.protocol(self, inner)  # type: ignore[no-untyped-call]

    def report(self, protocol: _TLSProtocol, failure: Any) -> None:
        """Hand a failed handshake to the engine as a TLS defect (it is journaled, never answered)."""
        if self.handler is None:
            return
        transport: Any = protocol.transport
        peer = str(getattr(transport.getPeer(), "host", "")) if transport is not None else ""
        fingerprint = ""
        connection = protocol._tlsConnection
        cert = connection.get_peer_certificate() if connection is not None else None
        if cert is None and connection is not None:  # verification failed: OpenSSL let it go
            cert = _PRESENTED.get(connection)
        if cert is not None:
            fingerprint = cert.digest("sha256").decode("ascii")
        note = _reason(getattr(failure, "value", None))
        if fingerprint:
            note = f"{note}; certificate {fingerprint}"
        inbound = Inbound(
            raw=b"",
            peer=peer,
            channel=self.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=fingerprint,
            defect=Defect.TLS,
            size=0,
            note=note,
        )
        self.handler.handle(inbound)


def _reason(error: Any) -> str:
    """OpenSSL's reason for a failed handshake, PHI-free ("certificate verify failed"), or its type."""
    if isinstance(error, SSL.Error) and error.args and isinstance(error.args[0], list):
        reasons = [str(item[2]) for item in error.args[0] if isinstance(item, tuple) and len(item) == 3]
        if reasons:
            return "; ".join(reasons)[:200]
    return type(error).__name__ if error is not None else "connection closed during the handshake"


def wrap(factory: Any, options: Any, channel: str = "", handler: MessageHandler | None = None) -> TLSMemoryBIOFactory:
    """A factory that speaks TLS in front of `factory`; failed handshakes go to `handler`, journaled."""
    return _TLSFactory(options, factory, channel, handler)


def _pem_blocks(data: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    return [block + end for block in data.split(end) if b"-----BEGIN CERTIFICATE-----" in block]
