"""Hostile and malformed input against a real hub: bounded cost, no detail before authorization.

Each test starts a `passerelle serve` subprocess and speaks to it over real sockets. The
attacker connects from its own loopback address (127.0.0.66), the good partner from 127.0.0.1:
refusal buckets and per-peer limits count by address.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import yaml
from commands import invoke, run_hub
from helpers import lab_message
from hostile import ATTACKER
from servers import Server, ServerFactory
from sqlalchemy import create_engine, func, select

from hub.cli.client import MLLPClient, parse_ack
from hub.store.models import JournalEntry

pytestmark = pytest.mark.slow
VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def _journal(server: Server, peer: str) -> list[JournalEntry]:
    engine = create_engine(server.db_url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(JournalEntry).where(JournalEntry.peer == peer)))
    engine.dispose()
    return rows  # type: ignore[return-value]


def _count(server: Server, peer: str) -> int:
    engine = create_engine(server.db_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(JournalEntry).where(JournalEntry.peer == peer)).scalar()
    engine.dispose()
    return int(n or 0)


def _send(port: int, data: bytes) -> bytes:
    client = MLLPClient("127.0.0.1", port, timeout=10)
    try:
        return client.send(data)
    finally:
        client.close()


def test_one_read_of_empty_frames_costs_a_bounded_journal(server_factory: ServerFactory) -> None:
    """64 KiB of empty frames (about 21,000) from an unidentified peer: a few entries, not one per frame.

    The connection stops cutting frames at 64 awaiting their ACK, each empty frame spends a token
    of the peer's refusal bucket, and what the blocked peer had queued is dropped with one
    `dropped` entry. The good partner is served before and after.
    """
    server = server_factory(ruleset="tgv-lab-2026.1")
    assert parse_ack(_send(server.port, lab_message("F1"))).code == "AA"
    flood = (VT + FS + CR) * (65536 // 3)
    with socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0)) as s:
        s.sendall(flood)
        s.settimeout(5)
        deadline = time.monotonic() + 5
        try:
            while time.monotonic() < deadline and s.recv(65536):
                pass
        except OSError:
            pass  # closed by the hub once the peer is blocked
    time.sleep(0.5)
    entries = _journal(server, ATTACKER)
    assert 0 < len(entries) <= 30, len(entries)  # measured: 12 (10 rejected, spending the tokens, then `dropped`)
    assert any(e.status == "dropped" for e in entries)
    assert parse_ack(_send(server.port, lab_message("F2"))).code == "AA"


def test_an_unknown_sender_gets_the_bare_refusal_even_for_a_malformed_message(server_factory: ServerFactory) -> None:
    """A message that fails to parse, from an MSH-3/4 no partner holds: AR 207 only, no parse detail."""
    server = server_factory()
    bad = b"MSH|^~\\&|INTRUS|NULLEPART|DSQ|QC|20260101||ORU^R01|U1|P|2.5.1\rpid|1\r"
    ack = parse_ack(_send(server.port, bad))
    assert ack.code == "AR"
    assert len(ack.errors) == 1 and "|207^" in ack.errors[0] and "MSH^1^3" in ack.errors[0]
    known = parse_ack(_send(server.port, bad.replace(b"INTRUS|NULLEPART", b"LIS|CHUM").replace(b"U1", b"U2")))
    assert known.code == "AE" and "|100^" in known.errors[0]  # a partner gets the detail


def test_an_escaped_control_character_is_refused_at_its_field(server_factory: ServerFactory) -> None:
    """\\X1B\\ (ESC) in PID-5 is AE 102 at PID^1^5, as a raw ESC is; nothing is stored."""
    server = server_factory()
    raw = lab_message("E1").replace(b"Test^Lab", b"Test\\X1B\\[31m^Lab")
    ack = parse_ack(_send(server.port, raw))
    assert ack.code == "AE" and "PID^1^5" in ack.errors[0] and "|102^" in ack.errors[0]


def test_an_invented_msh9_3_no_longer_skips_the_structure(server_factory: ServerFactory) -> None:
    """MSH-9.3 XYZ_X99 on an ORU^R01 missing its OBX-2: the structure MSH-9.1/9.2 name is checked."""
    server = server_factory(ruleset="tgv-lab-2026.1")
    raw = lab_message("S1").replace(b"ORU^R01^ORU_R01", b"ORU^R01^XYZ_X99")
    ack = parse_ack(_send(server.port, raw))
    assert ack.code == "AE"
    assert any("MSH^1^9^^3" in e and "|103^" in e for e in ack.errors)


def test_a_channel_without_ruleset_validates(server_factory: ServerFactory) -> None:
    """No `ruleset` key: the domain's current rule set applies; a text value in an NM field is AE."""
    server = server_factory(ruleset=None)
    raw = lab_message("V1").replace(b"|NM|2345-7^Glucose^LN||5.4|", b"|NM|2345-7^Glucose^LN||high|")
    ack = parse_ack(_send(server.port, raw))
    assert ack.code == "AE" and any("OBX^1^5" in e for e in ack.errors)


def _config(tmp_path: Path, channel: dict[str, object]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path / 'c.db'}"}, "channels": [channel]}))
    return path


def test_a_plain_channel_on_a_public_interface_refuses_to_start(tmp_path: Path) -> None:
    """No interface (all of them) and no tls: a one-line refusal naming allow_plaintext; with it, a warning."""
    channel: dict[str, object] = {"name": "lab", "protocol": "mllp", "listen": "tcp:2599", "domain": "lab"}
    refused = invoke("check-config", "--config", str(_config(tmp_path, channel)))
    assert refused.exit_code != 0 and "allow_plaintext" in refused.output
    allowed = invoke("check-config", "--config", str(_config(tmp_path, {**channel, "allow_plaintext": True})))
    assert allowed.exit_code == 0 and "plain text" in allowed.stderr


def test_required_client_certificates_need_a_ca(tmp_path: Path) -> None:
    """`client_certificate: required` without `ca` is refused instead of serving server-only TLS."""
    tls = {"certificate": "hub.crt", "key": "hub.key", "client_certificate": "required"}
    channel: dict[str, object] = {
        "name": "lab",
        "protocol": "mllp",
        "listen": "tcp:2599:interface=127.0.0.1",
        "domain": "lab",
        "tls": tls,
    }
    refused = invoke("check-config", "--config", str(_config(tmp_path, channel)))
    assert refused.exit_code != 0 and "needs ca" in refused.output


def test_serve_itself_refuses_a_plain_channel_on_a_public_interface(tmp_path: Path) -> None:
    """`passerelle serve` exits 1 with one line naming allow_plaintext; it never listens."""
    channel: dict[str, object] = {"name": "lab", "protocol": "mllp", "listen": "tcp:2598", "domain": "lab"}
    done = run_hub("serve", "--config", str(_config(tmp_path, channel)), timeout=60)
    assert done.returncode == 1
    assert "allow_plaintext" in done.stderr and "Traceback" not in done.stderr
