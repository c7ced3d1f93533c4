"""A live certification campaign over MLLP: open, traffic on the certification channel, close, certificate.

The partner is private-ramq and uncertified: refused on the production channel before the
campaign, accepted after its certificate is issued. Certification traffic never reaches the
clinical tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from commands import invoke
from servers import Server, free_port, start_server
from vendor_traffic import TrafficMaker

from hub.cli.client import MLLPClient, parse_ack
from hub.hl7.files import split_messages

pytestmark = pytest.mark.slow
VENDOR = {
    "id": "acme-labsys",
    "name": "Acme LabSys",
    "organization": "chum",
    "authorities": ["CHUM"],
    "category": "private-ramq",
    "domains": ["lab"],
    "product": {"name": "LabSys", "version": "5.0"},
    "identities": [{"sending_application": "VENDLAB", "sending_facility": "LABO"}],
}


@dataclass
class CertHub(Server):
    """The server, and the port of its certification channel."""

    cert_port: int = 0


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[CertHub]:
    """A hub with a production lab channel and a certification lab channel."""
    cert_port = free_port()
    cert = {
        "name": "cert",
        "protocol": "mllp",
        "listen": f"tcp:{cert_port}:interface=127.0.0.1",
        "domain": "lab",
        "certification": True,
        "processing_ids": ["T"],
        "ruleset": "tgv-lab-2026.1",
    }
    server = start_server(
        tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", partners=[VENDOR], extra_channels=[cert], ruleset="tgv-lab-2026.1"
    )
    yield CertHub(**vars(server), cert_port=cert_port)
    server.stop()


def cli(config: Path, *args: str) -> Result:
    """`passerelle ARGS --config CONFIG`, in this process."""
    return invoke(*args, "--config", str(config))


def send_all(port: int, messages: list[bytes]) -> list[str]:
    """MSA-1 of each message, on one connection."""
    client = MLLPClient("127.0.0.1", port)
    try:
        return [parse_ack(client.send(m)).code for m in messages]
    finally:
        client.close()


def test_live_campaign_certifies_the_product_and_opens_the_production_link(
    hub: CertHub, tmp_path: Path, traffic_maker: TrafficMaker
) -> None:
    """Uncertified: AR in production. Campaign traffic: AA x6, AE for LAB-06. Closed: PASS, then AA in production."""
    production = traffic_maker.message("PROD-1", "F").replace("|T|2.5.1", "|P|2.5.1").encode()
    assert send_all(hub.port, [production]) == ["AR"]
    opened = cli(
        hub.config,
        "certify",
        "open",
        "--plan",
        "tgv-lab-2026.1",
        "--vendor",
        "Acme",
        "--product",
        "LabSys",
        "--version",
        "5.0",
    )
    assert opened.exit_code == 0, opened.stderr
    folder = tmp_path / "traffic"
    folder.mkdir()
    messages = [m for f in traffic_maker.files(folder) for m in split_messages(f.read_bytes())]
    assert send_all(hub.cert_port, messages) == ["AA"] * 6 + ["AE"]
    closed = cli(hub.config, "certify", "close", "1", "--out", str(tmp_path / "report"))
    assert closed.exit_code == 0, closed.stdout + closed.stderr
    assert (tmp_path / "report" / "report.html").is_file()
    db = hub.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM campaign_messages").fetchone() == (7,)
        assert conn.execute("SELECT product_name, product_version FROM certificates").fetchall() == [("LabSys", "5.0")]
    production = production.replace(b"PROD-1", b"PROD-2")
    assert send_all(hub.port, [production]) == ["AA"]
    assert cli(hub.config, "journal", "verify").exit_code == 0


def test_certification_traffic_without_an_open_campaign_is_refused(hub: CertHub, traffic_maker: TrafficMaker) -> None:
    """No open campaign for the product: AR, and nothing is kept."""
    assert send_all(hub.cert_port, [traffic_maker.message("LAB-01-X", "F").encode()]) == ["AR"]
