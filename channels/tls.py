"""Mutual TLS for listeners, with Twisted's TLS: TLS 1.2 at least, BCP 195 cipher suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from OpenSSL import crypto
from twisted.internet import ssl
from twisted.protocols.tls import TLSMemoryBIOFactory

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
    return ssl.CertificateOptions(
        privateKey=pkey,
        certificate=cert,
        verify=bool(ca_certs),
        caCerts=[c.original for c in ca_certs],
        requireCertificate=require_client and bool(ca_certs),
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(BCP195_CIPHERS),  # type: ignore[no-untyped-call]
    )


class _TLSFactory(TLSMemoryBIOFactory):
    """TLS in front of a factory that may refuse a connection (its buildProtocol returns None)."""

    def buildProtocol(self, addr: Any) -> Any:
        """The TLS protocol around the inner one, or None when the inner factory refuses."""
        inner = self.wrappedFactory.buildProtocol(addr)
        return None if inner is None else self.protocol(self, inner)


def wrap(factory: Any, options: Any) -> TLSMemoryBIOFactory:
    """A factory that speaks TLS in front of `factory` (any stream endpoint can listen with it)."""
    return _TLSFactory(options, False, factory)


def _pem_blocks(data: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    return [block + end for block in data.split(end) if b"-----BEGIN CERTIFICATE-----" in block]
