"""The metrics channel of a real hub: /metrics moves with the traffic (summed over workers), /healthz, /readyz."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from domain_hub import send
from helpers import lab_message
from prometheus_client.parser import text_string_to_metric_families
from servers import ServerFactory, free_port

pytestmark = pytest.mark.slow


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _accepted(port: int) -> float:
    status, body = _get(port, "/metrics")
    assert status == 200
    total = 0.0
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "passerelle_messages_total" and sample.labels.get("status") == "accepted":
                total += sample.value
    return total


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_move_and_health_answers(server_factory: ServerFactory, workers: int) -> None:
    """Ten messages on several connections: the scrape counts ten, whichever worker answers it."""
    port = free_port()
    channel = {"name": "metrics", "protocol": "metrics", "listen": f"tcp:{port}:interface=127.0.0.1"}
    server = server_factory(workers=workers, extra_channels=[channel], max_connections_per_peer=100)
    assert _accepted(port) == 0
    for batch in range(5):
        acks = send(server.port, lab_message(f"M{batch}a"), lab_message(f"M{batch}b"))
        assert [a.code for a in acks] == ["AA", "AA"]
    assert [_accepted(port) for _ in range(4)] == [10.0] * 4
    assert _get(port, "/healthz") == (200, "ok\n")
    assert _get(port, "/readyz") == (200, "ok\n")
    assert _get(port, "/elsewhere")[0] == 404
