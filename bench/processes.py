"""The servers the benchmarks measure, as subprocesses: our hub and python-hl7's peer; their CPU time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.messages import LAB_PARTNER, ORGANIZATIONS

ROOT = Path(__file__).resolve().parent.parent
Started = tuple[subprocess.Popen[bytes], int]  # a server process and the port it listens on


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until something listens on `port`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def start_hub(db_url: str, tmp: Path, workers: int = 1, metrics_port: int = 0, **channel: object) -> Started:
    """Our hub as a subprocess on a fresh database (`channel`: extra options for its lab channel).

    With a `metrics_port`, the hub also serves its metrics there (`writer_cpu` reads them).
    """
    port = free_port()
    metrics = [{"name": "metrics", "protocol": "metrics", "listen": f"tcp:{metrics_port}:interface=127.0.0.1"}]
    config = {
        "database": {"url": db_url},
        "logging": {"level": "warning"},
        "channels": [
            {
                "name": "lab",
                "protocol": "mllp",
                "listen": f"tcp:{port}:interface=127.0.0.1",
                "domain": "lab",
                "ruleset": "tgv-lab-2026.1",
                "max_connections_per_peer": 100,  # the load generator opens 64 connections from one address
                **channel,
            },
            *(metrics if metrics_port else []),
        ],
        "organizations": ORGANIZATIONS,
        "partners": [LAB_PARTNER],
    }
    path = tmp / f"bench-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (tmp / f"hub-{port}.log").open("ab")  # hostile peers make the hub log every protocol failure
    command = [sys.executable, "-m", "hub", "serve", "--config", str(path), "--workers", str(workers)]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=log)
    wait_port(port, proc)
    if metrics_port:
        wait_port(metrics_port, proc)
    return proc, port


def writer_cpu(metrics_port: int) -> dict[str, float]:
    """CPU seconds the hub's writers have spent so far, by phase (prepare, commit), summed over its workers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
        text = answer.read().decode("utf-8")
    return {
        sample.labels["phase"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "passerelle_writer_cpu_seconds"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def start_peer() -> Started:
    """python-hl7's asyncio MLLP server as a subprocess."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.peer_hl7", str(port)], cwd=ROOT)
    wait_port(port, proc)
    return proc, port


def start_domains_hub(tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """A hub (SQLite) with lab, pharmacy and imaging MLLP channels and a SOAP lab channel."""
    ports = {name: free_port() for name in ("lab", "pharmacy", "imaging", "soap")}

    def channel(name: str, domain: str, protocol: str = "mllp") -> dict[str, object]:
        return {
            "name": name,
            "protocol": protocol,
            "listen": f"tcp:{ports[name]}:interface=127.0.0.1",
            "domain": domain,
            "ruleset": f"tgv-{domain}-2026.1",
            "max_connections_per_peer": 100,
        }

    config = {
        "database": {"url": f"sqlite:///{tmp / 'domains.db'}"},
        "logging": {"level": "warning"},
        "channels": [
            channel("lab", "lab"),
            channel("pharmacy", "pharmacy"),
            channel("imaging", "imaging"),
            channel("soap", "lab", "soap"),
        ],
        "organizations": ORGANIZATIONS,
        "partners": [{**LAB_PARTNER, "domains": ["lab", "pharmacy", "imaging"]}],
    }
    path = tmp / "domains.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    proc = subprocess.Popen([sys.executable, "-m", "hub", "serve", "--config", str(path)], cwd=ROOT)
    for port in ports.values():
        wait_port(port, proc)
    return proc, ports


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server and wait for it."""
    proc.terminate()
    proc.wait(10)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (the workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited meanwhile
    return total


def cpu_ticks() -> tuple[int, int]:
    """The machine's (steal, total) jiffies since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return values[7], sum(values)
