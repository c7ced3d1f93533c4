"""Mutual TLS on the MLLP listener, with a CA and certificates generated at run time."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pki import issue, make_ca

from hub.cli.client import parse_ack

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def message(app: str, fac: str, control_id: str) -> bytes:
    """A valid lab result from (MSH-3, MSH-4)."""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "PID|1||123^^^CHUM^MR||Lavoie^Hélène||19541231|F\r"
        "OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
    ).encode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A CA, the hub's certificate, partners A and B, and a stranger signed by another CA."""
    out = tmp_path_factory.mktemp("pki")
    ca = make_ca("Passerelle test CA")
    (out / "ca.crt").write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    return {
        "dir": out,
        "ca": out / "ca.crt",
        "server": issue(ca, "hub", True, out),
        "a": issue(ca, "partner-a", False, out),
        "b": issue(ca, "partner-b", False, out),
        "stranger": issue(make_ca("Other CA"), "stranger", False, out),
    }


@pytest.fixture(scope="module")
def tls_server(
    pki: dict[str, object], request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A server whose lab channel requires a client certificate from the test CA."""
    start_server = request.getfixturevalue("start_server_fn")
    tmp = tmp_path_factory.mktemp("tls")
    server_cert, server_key, _ = pki["server"]  # type: ignore[misc]
    partners = []
    for name, app in (("a", "APPA"), ("b", "APPB")):
        _, _, fingerprint = pki[name]  # type: ignore[misc]
        partners.append(
            {
                "id": f"partner-{name}",
                "name": name,
                "category": "government",
                "domains": ["lab"],
                "product": {"name": "P", "version": "1"},
                "identities": [
                    {"certificate_sha256": fingerprint},
                    {"sending_application": app, "sending_facility": "F"},
                ],
            }
        )
    tls = {
        "certificate": str(server_cert),
        "key": str(server_key),
        "ca": str(pki["ca"]),
        "client_certificate": "required",
    }
    server = start_server(tmp, f"sqlite:///{tmp / 'tls.db'}", partners=partners, tls=tls)
    yield server
    server.stop()


def tls_send(
    port: int, ca: Path, client: tuple[Path, Path, str] | None, data: bytes, **ctx_options: object
) -> tuple[bytes | None, str]:
    """One message over TLS; (reply or None, negotiated TLS version or the error)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if client is not None:
        ctx.load_cert_chain(client[0], client[1])
    for name, value in ctx_options.items():
        setattr(ctx, name, value)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as sock:
            version = sock.version() or ""
            sock.sendall(VT + data + FS + CR)
            buf = b""
            while FS + CR not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return None, version
                buf += chunk
            return buf[buf.find(VT) + 1 : buf.find(FS)], version
    except (ssl.SSLError, OSError) as exc:
        return None, type(exc).__name__


def test_partner_with_its_certificate_and_its_msh_is_accepted(tls_server: object, pki: dict[str, object]) -> None:
    """A's certificate with A's MSH-3/4: AA, over TLS 1.2 or later."""
    reply, version = tls_send(tls_server.port, pki["ca"], pki["a"], message("APPA", "F", "T1"))  # type: ignore[arg-type, attr-defined]
    assert reply is not None
    assert parse_ack(reply).code == "AA"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_partner_as_msh_over_partner_bs_certificate_is_refused(tls_server: object, pki: dict[str, object]) -> None:
    """Partner A's MSH-3/4 sent over partner B's certificate: AR, link not authorized."""
    reply, _ = tls_send(tls_server.port, pki["ca"], pki["b"], message("APPA", "F", "T2"))  # type: ignore[arg-type, attr-defined]
    assert reply is not None
    ack = parse_ack(reply)
    assert ack.code == "AR"
    assert "link not authorized" in ack.errors[0]


@pytest.mark.parametrize("who", [None, "stranger"], ids=["no-certificate", "other-ca"])
def test_clients_without_a_trusted_certificate_get_no_answer(
    tls_server: object, pki: dict[str, object], who: str | None
) -> None:
    """No client certificate, or one from another CA: the handshake fails, nothing is answered."""
    client = pki[who] if who else None
    reply, _ = tls_send(tls_server.port, pki["ca"], client, message("APPA", "F", "T3"))  # type: ignore[arg-type, attr-defined]
    assert reply is None


def _handshake(port: int, pki: dict[str, object], cipher: str, maximum: ssl.TLSVersion) -> str:
    """Handshake only, with the client opened up (SECLEVEL=0) so any refusal is the hub's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(pki["ca"])  # type: ignore[arg-type]
    cert, key, _ = pki["a"]  # type: ignore[misc]
    ctx.load_cert_chain(cert, key)
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = maximum
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as sock:
            return sock.version() or "connected"
    except ssl.SSLError:
        return "refused"


def test_bcp195_suites_only(tls_server: object, pki: dict[str, object]) -> None:
    """TLS 1.2 with ECDHE+AEAD connects; ECDHE with CBC (not in BCP 195) is refused by the hub."""
    port = tls_server.port  # type: ignore[attr-defined]
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-GCM-SHA256", ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-SHA", ssl.TLSVersion.TLSv1_2) == "refused"


def test_tls_below_1_2_is_refused(tls_server: object, pki: dict[str, object]) -> None:
    """A client that offers at most TLS 1.1 (with a suite TLS 1.1 can use) is refused."""
    port = tls_server.port  # type: ignore[attr-defined]
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-SHA", ssl.TLSVersion.TLSv1_1) == "refused"
