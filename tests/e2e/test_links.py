"""Link policy through the real listener: category x certification x domain, and rate limiting."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import Server, ServerFactory, start_server
from sqlalchemy import select

from hub.cli.client import MLLPClient, parse_ack
from hub.governance.partners import issue_certificate
from hub.governance.policy import CATEGORIES
from hub.store.db import make_engine, upgrade
from hub.store.models import JournalEntry

pytestmark = pytest.mark.slow
VT, FS, CR = b"\x0b", b"\x1c", b"\r"
CASES = [(c, certified, domain) for c in CATEGORIES for certified in (True, False) for domain in ("lab", "pharmacy")]


def pid(category: str, certified: bool, domain: str) -> str:
    """The partner id of one case."""
    return f"{category}-{'cert' if certified else 'uncert'}-{domain}"


def expected(category: str, certified: bool, domain: str) -> str:
    """What the 2019 policy answers on the lab channel."""
    if domain != "lab":
        return "AR"
    if category == "government":
        return "AA"
    if category in ("private-ramq", "private-msss-approved"):
        return "AA" if certified else "AR"
    return "AR"


def message(app: str, fac: str, control_id: str) -> bytes:
    """A valid lab result from (MSH-3, MSH-4)."""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "PID|1||123^^^CHUM^MR||Lavoie^Hélène||19541231|F\r"
        "OBR|1||F1^LAB|2345-7^Glucose^LN|||20260101080000\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
    ).encode()


@pytest.fixture(scope="module")
def link_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with one partner per case; the 'cert' ones hold a valid certificate."""
    tmp = tmp_path_factory.mktemp("links")
    url = f"sqlite:///{tmp / 'links.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    partners: list[dict[str, object]] = []
    for category, certified, domain in CASES:
        p = pid(category, certified, domain)
        partners.append(
            {
                "id": p,
                "name": p,
                "organization": "chum",
                "authorities": ["CHUM"],
                "category": category,
                "domains": [domain],
                "product": {"name": f"PROD-{p}", "version": "1.0"},
                "identities": [{"sending_application": f"APP-{p}", "sending_facility": "FAC"}],
            }
        )
        if certified:
            issue_certificate(engine, (f"PROD-{p}", "1.0"), ("tgv-lab", "2026.1"), (now, now + timedelta(days=30)))
    engine.dispose()
    server = start_server(tmp, url, partners=partners, security={"refused_burst": 1000})
    yield server
    server.stop()


@pytest.mark.parametrize(("category", "certified", "domain"), CASES, ids=[pid(*c) for c in CASES])
def test_category_certification_domain(link_server: Server, category: str, certified: bool, domain: str) -> None:
    """Each case gets the policy's answer; refusals say « lien non autorisé » with ERR-3 207."""
    p = pid(category, certified, domain)
    client = MLLPClient("127.0.0.1", link_server.port)
    try:
        ack = parse_ack(client.send(message(f"APP-{p}", "FAC", f"L-{p}")))
    finally:
        client.close()
    assert ack.code == expected(category, certified, domain)
    if ack.code == "AR":
        (err,) = ack.errors
        assert "|207^" in err
        assert err.endswith("lien non autorisé / link not authorized")


def test_unknown_sender_is_refused_and_journaled_as_a_security_event(link_server: Server) -> None:
    """A sender no partner declares gets AR 207; the journal records the reason code."""
    client = MLLPClient("127.0.0.1", link_server.port)
    try:
        ack = parse_ack(client.send(message("NOBODY", "NOWHERE", "UNKNOWN-1")))
    finally:
        client.close()
    assert ack.code == "AR"
    engine = make_engine(link_server.db_url)
    with engine.connect() as conn:
        entry = conn.execute(select(JournalEntry).where(JournalEntry.control_id == "UNKNOWN-1")).one()
    engine.dispose()
    assert (entry.status, entry.decision, entry.codes) == ("refused", "unknown-sender", "207")


def _send_from(source: str, port: int, data: bytes) -> bytes | None:
    """Send one framed message from a given loopback source address; the reply or None."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    except OSError:
        return None
    with sock:
        try:
            sock.sendall(VT + data + FS + CR)
            buf = b""
            while FS + CR not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                buf += chunk
        except OSError:
            return None
    return buf[buf.find(VT) + 1 : buf.find(FS)]


def test_refused_attempts_are_rate_limited_per_peer(tmp_path: Path, server_factory: ServerFactory) -> None:
    """After its burst of refusals a peer is cut off; another peer keeps being served."""
    server = server_factory(security={"refused_burst": 3, "refused_per_minute": 1})
    replies = [_send_from("127.0.0.2", server.port, message("NOBODY", "X", f"R{i}")) for i in range(6)]
    codes = [parse_ack(r).code if r else None for r in replies]
    assert codes[:2] == ["AR", "AR"]
    assert codes[3:] == [None, None, None]  # blocked: connections closed without reading
    good = _send_from("127.0.0.1", server.port, message("LIS", "CHUM", "GOOD-1"))
    assert good is not None
    assert parse_ack(good).code == "AA"
