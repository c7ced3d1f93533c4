"""The consultation row: `Patient/$everything` over HTTP for one patient's full chart, journal entry included.

A subprocess hub (SQLite, and PostgreSQL when it answers) is fed over MLLP: 500 other lab
messages, then for the consulted patient 25 lab results of 8 observations (200), 20
prescriptions and 5 radiology reports. One keep-alive HTTP connection then asks for the whole
chart, each request with a token of its own (signed before the clock starts), one at a time:
each answer comes after its chained journal entry is committed.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.messages import LAB_PARTNER, ORGANIZATIONS, oru, radiology, rde
from bench.pg import pg_reachable, pg_schema
from bench.processes import ROOT, free_port, stop, tree_cpu, wait_port
from hub.cli.client import MLLPClient

PATIENT = "PID|1||BENCH-1^^^CHUM^MR||Lavoie^Hélène^Marie||19541231|F\r"
_PID = re.compile(rb"PID\|[^\r]*\r")


def _mine(raw: bytes) -> bytes:
    return _PID.sub(PATIENT.encode(), raw, count=1)


def _config(db_url: str, ports: dict[str, int], public_key: str) -> dict[str, Any]:
    def mllp(name: str) -> dict[str, Any]:
        listen = f"tcp:{ports[name]}:interface=127.0.0.1"
        return {"name": name, "protocol": "mllp", "listen": listen, "domain": name, "ruleset": f"tgv-{name}-2026.1"}

    fhir = {"name": "fhir", "protocol": "fhir", "listen": f"tcp:{ports['fhir']}:interface=127.0.0.1"}
    return {
        "database": {"url": db_url},
        "logging": {"level": "warning"},
        "channels": [mllp("lab"), mllp("pharmacy"), mllp("imaging"), {**fhir, "domain": "consultation"}],
        "organizations": [*ORGANIZATIONS, {"id": "clinique", "name": "Clinique", "type": "clinic"}],
        "practitioners": [
            {
                "id": "dr-bench",
                "licence": "1",
                "order": "CMQ",
                "family": "B",
                "profession": "médecin",
                "organizations": ["clinique"],
            },
        ],
        "partners": [
            {**LAB_PARTNER, "domains": ["lab", "pharmacy", "imaging"]},
            {
                "id": "dme",
                "name": "DME",
                "organization": "clinique",
                "category": "government",
                "domains": ["consultation"],
                "product": {"name": "DME", "version": "1"},
                "identities": [{"public_key": public_key}],
            },
        ],
    }


def _feed(ports: dict[str, int]) -> None:
    feeds = {
        "lab": [oru(f"N{i}") for i in range(500)] + [_mine(oru(f"C{i}")) for i in range(25)],
        "pharmacy": [_mine(rde(f"P{i}")) for i in range(20)],
        "imaging": [_mine(radiology(f"R{i}")) for i in range(5)],
    }
    for channel, messages in feeds.items():
        client = MLLPClient("127.0.0.1", ports[channel])
        try:
            for message in messages:
                ack = client.send(message)
                assert b"MSA|AA|" in ack or b"MSA|CA|" in ack, ack[:300]
        finally:
            client.close()


def _measure(port: int, key: Any, proc: subprocess.Popen[bytes], requests: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def ask(path: str) -> tuple[int, bytes, float]:
        now = int(time.time())
        claims = {"iss": "dme", "sub": "dr-bench", "purpose_of_use": "TREAT", "iat": now, "exp": now + 120}
        tok = jwt.encode(claims | {"jti": uuid.uuid4().hex}, key, algorithm="ES256")
        start = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {tok}"})
        answer = conn.getresponse()
        body = answer.read()
        return answer.status, body, time.perf_counter() - start

    status, body, _ = ask("/fhir/Patient?identifier=urn:passerelle:authority:CHUM|BENCH-1")
    assert status == 200, body[:300]
    pid = json.loads(body)["entry"][0]["resource"]["id"]
    for _ in range(20):  # warm-up
        ask(f"/fhir/Patient/{pid}/$everything")
    cpu = tree_cpu(proc.pid)
    latencies: list[float] = []
    size = count = 0
    for _ in range(requests):
        status, body, elapsed = ask(f"/fhir/Patient/{pid}/$everything")
        assert status == 200
        latencies.append(elapsed)
        size, count = len(body), len(json.loads(body)["entry"])
    cpu = tree_cpu(proc.pid) - cpu
    conn.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": requests, "resources": count, "kib": size / 1024, "p50_ms": pct(0.50), "p90_ms": pct(0.90),
        "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000, "server_cpu_ms": cpu * 1000 / requests,
    }  # fmt: skip


def consult_bench(requests: int = 300) -> list[dict[str, Any]]:
    """The row per backend."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("SQLite", f"sqlite:///{Path(tmp) / 'consult.db'}")]
        if pg_reachable():
            backends.append(("PostgreSQL", pg_schema()))
        for name, url in backends:
            ports = {n: free_port() for n in ("lab", "pharmacy", "imaging", "fhir")}
            path = Path(tmp) / f"consult-{name}.yaml"
            path.write_text(yaml.safe_dump(_config(url, ports, public.decode()), allow_unicode=True))
            proc = subprocess.Popen([sys.executable, "-m", "hub", "serve", "--config", str(path)], cwd=ROOT)
            try:
                wait_port(ports["fhir"], proc)
                _feed(ports)
                rows.append({"backend": name, **_measure(ports["fhir"], key, proc, requests)})
            finally:
                stop(proc)
    return rows


def print_consult(rows: list[dict[str, Any]]) -> None:
    """The table."""
    print("\nConsultation: Patient/$everything, 200 observations + 25 reports, 20 prescriptions, 5 imaging reports")
    print("(one keep-alive HTTP connection, one request at a time, the chained journal entry committed first)")
    head = f"  {'backend':11} {'resources':>9} {'KiB':>6} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    print(head + f" {'hub CPU ms':>10}")
    for r in rows:
        print(
            f"  {r['backend']:11} {r['resources']:9d} {r['kib']:6.0f} {r['p50_ms']:7.1f} {r['p90_ms']:7.1f} "
            f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['server_cpu_ms']:10.1f}"
        )


if __name__ == "__main__":
    print_consult(consult_bench())
