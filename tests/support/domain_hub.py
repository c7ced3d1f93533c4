"""A hub with a pharmacy and an imaging channel, and how the domain tests talk to it.

The `hub` fixture of tests/e2e/domains/conftest.py starts it; the tests send over MLLP, and
read the repository back with `show patient --json` run in this process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from commands import invoke
from servers import DEFAULT_PARTNERS, Server, ServerFactory

from hub.cli.client import Ack, MLLPClient, parse_ack

SENDER = {
    "id": "sender",
    "name": "Test senders",
    "organization": "chum",
    "authorities": ["CHUM"],
    "category": "government",
    "domains": ["pharmacy", "imaging"],
    "product": {"name": "Tests", "version": "1"},
    "identities": [{"sending_application": "PHARM", "sending_facility": "QC"}],
}


@dataclass
class DomainHub(Server):
    """The server (its main port is the pharmacy channel's) and its imaging channel's port."""

    imaging_port: int = 0


def channel(name: str, port: int, **extra: object) -> dict[str, object]:
    """A channel as config.yaml declares it."""
    return {
        "name": name,
        "protocol": "mllp",
        "listen": f"tcp:{port}:interface=127.0.0.1",
        "domain": name,
        "ruleset": f"tgv-{name}-2026.1",
        **extra,
    }


def start_domain_hub(server_factory: ServerFactory, db_url: str, imaging_port: int) -> DomainHub:
    """The pharmacy channel, and an imaging channel with a 4 KB document cap and a research exclusion."""
    imaging = channel(
        "imaging",
        imaging_port,
        max_document_bytes=4096,
        exclusions=[{"id": "imaging.no-research", "codes": ["LN:99999-9"], "sections": ["RES"]}],
    )
    server = server_factory(  # its main channel is pharmacy's, as config.yaml declares it
        db_url=db_url,
        name="pharmacy",
        domain="pharmacy",
        ruleset="tgv-pharmacy-2026.1",
        partners=[SENDER, *DEFAULT_PARTNERS],
        extra_channels=[imaging],
    )
    return DomainHub(**vars(server), imaging_port=imaging_port)


def send(port: int, *messages: str | bytes) -> list[Ack]:
    """Send each message on one connection; the parsed ACKs."""
    client = MLLPClient("127.0.0.1", port)
    try:
        return [parse_ack(client.send(m.encode() if isinstance(m, str) else m)) for m in messages]
    finally:
        client.close()


def show(server: Server, identifier: str) -> dict[str, Any]:
    """`show patient --json`."""
    shown = invoke("show", "patient", identifier, "--json", "--config", str(server.config))
    assert shown.exit_code == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def show_or_none(server: Server, identifier: str) -> dict[str, Any]:
    """`show patient --json`, or {} when the patient is unknown."""
    shown = invoke("show", "patient", identifier, "--json", "--config", str(server.config))
    return dict(json.loads(shown.stdout)) if shown.exit_code == 0 else {}


def report(cid: str, status: str, body: str = "", accession: str = "ACC-77", code: str = "24627-2^TDM^LN") -> str:
    """A v2.5.1 radiology ORU^R01 from PHARM/QC (the test partner) with OBR-18 accession and OBR-25."""
    obr = ["OBR", "1", "", "F77^RIS", code, "", "", "20260103080000"] + [""] * 10 + [accession] + [""] * 6 + [status]
    return (
        f"MSH|^~\\&|PHARM|QC|DSQ|QC|20260103120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        "PID|1||IMG42^^^CHUM^MR||Gagnon^Josée||19600101|F\r"
        + "|".join(obr)
        + "\r"
        + (body or f"OBX|1|FT|18782-3^Impression^LN||Poumons clairs.\\.br\\Aucune lésion ({status}).||||||{status}\r")
    )
