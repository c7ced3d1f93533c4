"""Mutual TLS on the MLLP listener, with a CA and certificates generated at run time."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from commands import invoke
from cryptography.hazmat.primitives import serialization
from pki import Leaf, issue, make_ca
from servers import Server, start_server
from sqlalchemy import create_engine, select

from hub.cli.client import parse_ack
from hub.store.models import JournalEntry

pytestmark = pytest.mark.slow
VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def message(app: str, fac: str, control_id: str) -> bytes:
    """A valid lab result from (MSH-3, MSH-4)."""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "PID|1||123^^^CHUM^MR||Lavoie^Hélène||19541231|F\r"
        "OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
    ).encode()


@dataclass
class Pki:
    """The test CA's certificate, and the leaves it signed: "server", "a", "b" (and "stranger", another CA's)."""

    ca: Path
    leaves: dict[str, Leaf]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, the hub's certificate, partners A and B, and a stranger signed by another CA."""
    out = tmp_path_factory.mktemp("pki")
    ca = make_ca("Passerelle test CA")
    (out / "ca.crt").write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    return Pki(
        out / "ca.crt",
        {
            "server": issue(ca, "hub", True, out),
            "a": issue(ca, "partner-a", False, out),
            "b": issue(ca, "partner-b", False, out),
            "c": issue(ca, "partner-c", False, out),
            "a2": issue(ca, "partner-a-rotated", False, out),
            "stranger": issue(make_ca("Other CA"), "stranger", False, out),
        },
    )


@pytest.fixture(scope="module")
def tls_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose lab channel requires a client certificate from the test CA."""
    tmp = tmp_path_factory.mktemp("tls")
    server_cert, server_key, _ = pki.leaves["server"]
    partners: list[dict[str, object]] = []
    for name, app in (("a", "APPA"), ("b", "APPB")):
        _, _, fingerprint = pki.leaves[name]
        partners.append(
            {
                "id": f"partner-{name}",
                "name": name,
                "organization": "chum",
                "authorities": ["CHUM"],
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
        "ca": str(pki.ca),
        "client_certificate": "required",
    }
    _, _, c_fingerprint = pki.leaves["c"]
    partners.append(  # declared by its certificate alone: it may send DICOM objects, no HL7 message
        {
            "id": "partner-c",
            "name": "c",
            "organization": "chum",
            "authorities": ["CHUM"],
            "category": "government",
            "domains": ["lab"],
            "product": {"name": "P", "version": "1"},
            "identities": [{"certificate_sha256": c_fingerprint}],
        }
    )
    server = start_server(tmp, f"sqlite:///{tmp / 'tls.db'}", partners=partners, tls=tls)
    yield server
    server.stop()


def tls_send(port: int, ca: Path, client: Leaf | None, data: bytes, **ctx_options: object) -> tuple[bytes | None, str]:
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


def test_partner_with_its_certificate_and_its_msh_is_accepted(tls_server: Server, pki: Pki) -> None:
    """A's certificate with A's MSH-3/4: AA, over TLS 1.2 or later."""
    reply, version = tls_send(tls_server.port, pki.ca, pki.leaves["a"], message("APPA", "F", "T1"))
    assert reply is not None
    assert parse_ack(reply).code == "AA"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_partner_as_msh_over_partner_bs_certificate_is_refused(tls_server: Server, pki: Pki) -> None:
    """Partner A's MSH-3/4 sent over partner B's certificate: AR, link not authorized."""
    reply, _ = tls_send(tls_server.port, pki.ca, pki.leaves["b"], message("APPA", "F", "T2"))
    assert reply is not None
    ack = parse_ack(reply)
    assert ack.code == "AR"
    assert "link not authorized" in ack.errors[0]


def test_a_certificate_only_partner_cannot_take_an_msh_nobody_holds(tls_server: Server, pki: Pki) -> None:
    """C, declared by certificate alone, sends an MSH-3/4 no partner holds: AR 207, identity-mismatch.

    A certificate vouches for its partner's own declared MSH-3/MSH-4 pairs, never for any other:
    else C could write new versions into another facility's records.
    """
    reply, _ = tls_send(tls_server.port, pki.ca, pki.leaves["c"], message("NOBODY", "ELSEWHERE", "T9"))
    assert reply is not None
    ack = parse_ack(reply)
    assert ack.code == "AR" and "|207^" in ack.errors[0]
    engine = create_engine(tls_server.db_url)
    with engine.connect() as conn:
        entry = conn.execute(select(JournalEntry).where(JournalEntry.control_id == "T9")).one()
    engine.dispose()
    assert (entry.status, entry.decision, entry.partner_id) == ("refused", "identity-mismatch", "partner-c")


@pytest.mark.parametrize("who", [None, "stranger"], ids=["no-certificate", "other-ca"])
def test_clients_without_a_trusted_certificate_get_no_answer(tls_server: Server, pki: Pki, who: str | None) -> None:
    """No client certificate, or one from another CA: the handshake fails, nothing is answered."""
    client = pki.leaves[who] if who else None
    before = _tls_failures(tls_server)
    reply, _ = tls_send(tls_server.port, pki.ca, client, message("APPA", "F", "T3"))
    assert reply is None
    deadline = time.monotonic() + 5
    while len(_tls_failures(tls_server)) == len(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = [e for e in _tls_failures(tls_server) if e.id not in {b.id for b in before}]
    assert entry.status == "protocol" and entry.peer == "127.0.0.1"
    if who == "stranger":  # a certificate came, untrusted: its fingerprint is journaled
        assert pki.leaves["stranger"][2].upper() in entry.reason.upper()


def _tls_failures(server: Server) -> list[JournalEntry]:
    """The journal's failed TLS handshakes."""
    engine = create_engine(server.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(JournalEntry).where(JournalEntry.reason.contains("TLS handshake failed"))).all()
    engine.dispose()
    return list(rows)  # type: ignore[arg-type]


def _handshake(port: int, pki: Pki, cipher: str, maximum: ssl.TLSVersion) -> str:
    """Handshake only, with the client opened up (SECLEVEL=0) so any refusal is the hub's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(pki.ca)
    cert, key, _ = pki.leaves["a"]
    ctx.load_cert_chain(cert, key)
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = maximum
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as sock:
            return sock.version() or "connected"
    except ssl.SSLError:
        return "refused"


def test_bcp195_suites_only(tls_server: Server, pki: Pki) -> None:
    """TLS 1.2 with ECDHE+AEAD connects; ECDHE with CBC (not in BCP 195) is refused by the hub."""
    port = tls_server.port
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-GCM-SHA256", ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-SHA", ssl.TLSVersion.TLSv1_2) == "refused"


def test_tls_below_1_2_is_refused(tls_server: Server, pki: Pki) -> None:
    """A client that offers at most TLS 1.1 (with a suite TLS 1.1 can use) is refused."""
    port = tls_server.port
    assert _handshake(port, pki, "ECDHE-ECDSA-AES128-SHA", ssl.TLSVersion.TLSv1_1) == "refused"


def test_a_rotated_certificate_is_refused_at_the_next_commit(tls_server: Server, pki: Pki, tmp_path: Path) -> None:
    """Partner A's certificate is replaced while the hub runs: the old one is refused, the new one served.

    The rotation keeps every count of the registry equal (one identity out, one in); the
    registry version its trigger bumps is what each transaction compares.
    """

    def partner_a(fingerprint: str) -> Path:
        path = tmp_path / f"a-{fingerprint[:5].replace(':', '')}.yaml"
        entry = {
            "id": "partner-a",
            "name": "a",
            "organization": "chum",
            "authorities": ["CHUM"],
            "category": "government",
            "domains": ["lab"],
            "product": {"name": "P", "version": "1"},
            "identities": [
                {"certificate_sha256": fingerprint},
                {"sending_application": "APPA", "sending_facility": "F"},
            ],
        }
        path.write_text(yaml.safe_dump([entry]))
        return path

    old, new = pki.leaves["a"], pki.leaves["a2"]
    reply, _ = tls_send(tls_server.port, pki.ca, old, message("APPA", "F", "ROT1"))
    assert reply is not None and parse_ack(reply).code == "AA"
    rotated = invoke("partners", "import", "--config", str(tls_server.config), str(partner_a(new[2])))
    assert rotated.exit_code == 0, rotated.output
    try:
        reply, _ = tls_send(tls_server.port, pki.ca, old, message("APPA", "F", "ROT2"))
        assert reply is not None and parse_ack(reply).code == "AR"
        reply, _ = tls_send(tls_server.port, pki.ca, new, message("APPA", "F", "ROT3"))
        assert reply is not None and parse_ack(reply).code == "AA"
    finally:
        assert invoke("partners", "import", "--config", str(tls_server.config), str(partner_a(old[2]))).exit_code == 0
