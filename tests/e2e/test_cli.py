"""The `passerelle` command line against a real server: config, schema, send, list, show, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LAB_EXPECTED
from sqlalchemy import text

from hub.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT.parent / "shared" / "samples" / "hl7v2" / "lab"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `python -m hub ARGS` and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120
    )


def test_every_lab_sample_gets_an_ack_and_aa_ones_are_visible(server_factory: object, tmp_path: Path) -> None:
    """`send` of every lab sample: one ACK per message, as EXPECTED; AA results show in `show patient`."""
    server = server_factory(ruleset="tgv-lab-2026.1")  # type: ignore[operator]  # as config.yaml
    files = sorted(LAB.glob("*.hl7"))
    result = run("send", "--port", str(server.port), *map(str, files))
    assert result.returncode == 1  # some samples are refused on purpose
    got: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name, code = line.split("\t")[0], line.split("\t")[2]
        got.setdefault(Path(name.split("#")[0]).name, []).append(code)
    assert got == LAB_EXPECTED
    shown = run("show", "patient", "9817566735", "--json", "--config", str(server.config))
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    (order,) = record["lab"]["orders"]
    assert order["current"]["code"] == "10368-9"
    assert order["observations"][0]["current"]["value_num"] == 50.0
    listed = json.loads(run("messages", "list", "--json", "--limit", "200", "--config", str(server.config)).stdout)
    assert {r["status"] for r in listed} >= {"accepted", "rejected", "error", "ignored", "refused"}


def obr(status: str) -> str:
    """An OBR with OBR-25 result status set."""
    fields = ["OBR", "1", "", "F9^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    return "|".join(fields)


def test_show_patient_json_shape(server_factory: object, tmp_path: Path) -> None:
    """The documented JSON shape, with French text intact from 8859/1 and UTF-8 senders."""
    server = server_factory()  # type: ignore[operator]
    latin = tmp_path / "latin.hl7"
    latin.write_bytes(
        (
            "MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|FR1|P|2.5.1||||||8859/1\r"
            "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"
            f"{obr('P')}\r"
            "OBX|1|ST|8251-1^Remarque^LN||Échantillon reçu à l'hôpital||||||P\r"
        ).encode("latin-1")
    )
    utf8 = tmp_path / "utf8.hl7"
    utf8.write_bytes(
        (
            "MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101130000||ORU^R01^ORU_R01|FR2|P|2.5.1||||||UNICODE UTF-8\r"
            "PID|1||LAVH54623112^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"
            f"{obr('F')}\r"
            "OBX|1|ST|8251-1^Remarque^LN||Œdème du cœur||||||F\r"
        ).encode()
    )
    sent = run("send", "--port", str(server.port), str(latin), str(utf8))
    assert sent.returncode == 0, sent.stdout
    shown = run("show", "patient", "LAVH54623112", "--json", "--config", str(server.config))
    record = json.loads(shown.stdout)
    assert set(record) == {"patient", "lab", "pharmacy", "imaging"}
    assert set(record["patient"]) == {"id", "identifiers", "family", "given", "birth_date", "sex"}
    assert record["patient"]["identifiers"] == [
        {"value": "LAVH54623112", "type": "NAM", "authority": "RAMQ", "is_nam": True}
    ]
    assert record["patient"]["given"] == "Hélène"
    (order,) = record["lab"]["orders"]
    assert set(order) == {"key", "current", "history", "observations"}
    assert order["current"]["status"] == "F"
    assert [h["status"] for h in order["history"]] == ["P"]
    (obs,) = order["observations"]
    assert obs["current"]["value_text"] == "Œdème du cœur"
    assert obs["history"][0]["value_text"] == "Échantillon reçu à l'hôpital"
    text_view = run("show", "patient", "LAVH54623112", "--config", str(server.config))
    assert "Œdème du cœur" in text_view.stdout


def test_logs_hold_no_patient_data(server_factory: object, tmp_path: Path) -> None:
    """The server's log lines carry channel, peer, control_id and status, never a name, NAM or body."""
    server = server_factory()  # type: ignore[operator]
    msg = tmp_path / "m.hl7"
    msg.write_bytes(
        b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|LOG1|P|2.5.1\r"
        b"PID|1||ZZTOP77^^^CHUM^MR~QUIM54623112^^^RAMQ^NAM||Quimper^Ysolde||19541231|F\r"
        b"OBR|1||F9^LAB|2345-7^Glucose^LN\rOBX|1|ST|8251-1^R^LN||SECRETVALUE||||||F\r"
    )
    assert run("send", "--port", str(server.port), str(msg)).returncode == 0
    server.stop()
    log = server.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    events = [line for line in lines if line.get("event") == "message"]
    assert events
    assert {"channel", "peer", "control_id", "status"} <= set(events[0])
    for secret in ("Quimper", "Ysolde", "QUIM54623112", "ZZTOP77", "SECRETVALUE", "PID|"):
        assert secret not in log


def test_config_errors_are_one_line_naming_the_key(tmp_path: Path) -> None:
    """A wrong key or value gets one line naming it, and a non-zero exit, no traceback."""
    bad = tmp_path / "bad.yaml"
    channel = "channels:\n  - name: lab\n    protocol: mllp\n    listen: tcp:1\n"
    bad.write_text(channel + "    domain: lab\n    colour: red\n")
    result = run("check-config", "--config", str(bad))
    assert result.returncode != 0
    assert "channels.0.colour" in result.stderr
    assert "Traceback" not in result.stderr
    bad.write_text(channel + "    domain: radio\n")
    result = run("check-config", "--config", str(bad))
    assert "channels.0.domain" in result.stderr
    assert "unknown domain" in result.stderr
    assert run("check-config", "--config", str(tmp_path / "missing.yaml")).returncode != 0


def test_environment_overrides_config(tmp_path: Path) -> None:
    """PASSERELLE_CONFIG picks the file; PASSERELLE_DATABASE_URL overrides its database."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("database:\n  url: sqlite:///nowhere.db\n")
    env = {"PASSERELLE_CONFIG": str(cfg), "PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    assert (tmp_path / "env.db").exists()
    assert not (tmp_path / "nowhere.db").exists()


def test_serve_refuses_an_outdated_schema(tmp_path: Path) -> None:
    """On an outdated database `serve` exits and names `passerelle db upgrade`."""
    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"database:\n  url: sqlite:///{db}\n")
    result = run("serve", "--config", str(cfg))
    assert result.returncode != 0
    assert "passerelle db upgrade" in result.stderr


@pytest.mark.parametrize("entry", [["-m", "hub", "--help"], ["-c", "from hub.cli import main; main(['--help'])"]])
def test_python_m_hub_is_the_cli(entry: list[str]) -> None:
    """`python -m hub` runs the same click group as the `passerelle` script."""
    result = subprocess.run([sys.executable, *entry], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "show" in result.stdout
    assert "serve" in result.stdout
