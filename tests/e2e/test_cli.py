"""The `passerelle` command line against a real server: send, list, show, logs.

`send` runs as a subprocess against the server; the commands that read the repository run in
this process (tests/hub/test_cli.py has the commands that need no server at all).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from commands import invoke, run_hub
from helpers import LAB_EXPECTED
from servers import ServerFactory
from shared_samples import samples

pytestmark = pytest.mark.slow


def test_every_lab_sample_gets_an_ack_and_aa_ones_are_visible(server_factory: ServerFactory, tmp_path: Path) -> None:
    """`send` of every lab sample: one ACK per message, as EXPECTED; AA results show in `show patient`."""
    server = server_factory(ruleset="tgv-lab-2026.1")  # as config.yaml
    files = samples("hl7v2/lab", "*.hl7")
    result = run_hub("send", "--port", str(server.port), *map(str, files))
    assert result.returncode == 1  # some samples are refused on purpose
    got: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name, code = line.split("\t")[0], line.split("\t")[2]
        got.setdefault(Path(name.split("#")[0]).name, []).append(code)
    assert got == LAB_EXPECTED
    shown = invoke("show", "patient", "9817566735", "--json", "--config", str(server.config))
    assert shown.exit_code == 0, shown.stderr
    record = json.loads(shown.stdout)
    (order,) = record["lab"]["orders"]
    assert order["current"]["code"] == "10368-9"
    assert order["observations"][0]["current"]["value_num"] == 50.0
    listed = json.loads(invoke("messages", "list", "--json", "--limit", "200", "--config", str(server.config)).stdout)
    assert {r["status"] for r in listed} >= {"accepted", "rejected", "error", "ignored", "refused"}


def obr(status: str) -> str:
    """An OBR with OBR-25 result status set."""
    fields = ["OBR", "1", "", "F9^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    return "|".join(fields)


def test_show_patient_json_shape(server_factory: ServerFactory, tmp_path: Path) -> None:
    """The documented JSON shape, with French text intact from 8859/1 and UTF-8 senders."""
    server = server_factory()
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
    sent = run_hub("send", "--port", str(server.port), str(latin), str(utf8))
    assert sent.returncode == 0, sent.stdout
    shown = invoke("show", "patient", "LAVH54623112", "--json", "--config", str(server.config))
    record = json.loads(shown.stdout)
    assert set(record) == {"patient", "lab", "pharmacy", "imaging"}
    assert set(record["patient"]) == {
        "id", "identifiers", "family", "given", "birth_date", "sex", "address", "version", "history",
        "merged", "merged_into", "merges",
    }  # fmt: skip
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
    text_view = invoke("show", "patient", "LAVH54623112", "--config", str(server.config))
    assert "Œdème du cœur" in text_view.stdout


def test_logs_hold_no_patient_data(server_factory: ServerFactory, tmp_path: Path) -> None:
    """The server's log lines carry channel, peer, control_id and status, never a name, NAM or body."""
    server = server_factory()
    msg = tmp_path / "m.hl7"
    msg.write_bytes(
        b"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|LOG1|P|2.5.1\r"
        b"PID|1||ZZTOP77^^^CHUM^MR~QUIM54623112^^^RAMQ^NAM||Quimper^Ysolde||19541231|F\r"
        b"OBR|1||F9^LAB|2345-7^Glucose^LN\rOBX|1|ST|8251-1^R^LN||SECRETVALUE||||||F\r"
    )
    assert run_hub("send", "--port", str(server.port), str(msg)).returncode == 0
    server.stop()
    log = server.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    events = [line for line in lines if line.get("event") == "message"]
    assert events
    assert {"channel", "peer", "control_id", "status"} <= set(events[0])
    for secret in ("Quimper", "Ysolde", "QUIM54623112", "ZZTOP77", "SECRETVALUE", "PID|"):
        assert secret not in log
