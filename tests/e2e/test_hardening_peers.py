"""Slow, noisy and broken peers against a real hub: deadlines, caps, limits and a writer that survives.

Each test starts a `passerelle serve` subprocess and speaks to it over real sockets.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import lab_message
from hostile import ATTACKER
from servers import ROOT, ServerFactory, free_port, write_config
from sqlalchemy import create_engine, select

from hub.cli.client import MLLPClient, parse_ack
from hub.store.models import JournalEntry

pytestmark = pytest.mark.slow
VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def _send(port: int, data: bytes) -> bytes:
    client = MLLPClient("127.0.0.1", port, timeout=10)
    try:
        return client.send(data)
    finally:
        client.close()


def test_an_ack_holds_at_most_101_err_segments_whatever_their_source(server_factory: ServerFactory) -> None:
    """500 fields with an unknown escape (500 parser warnings): 100 ERR and one counting the 400 left out."""
    server = server_factory()
    notes = "".join(f"NTE|{n}||note \\Q{n}\\\r" for n in range(1, 501))
    raw = lab_message("M1").decode() + notes
    reply = _send(server.port, raw.encode())
    ack = parse_ack(reply)
    assert ack.code == "AA"
    assert len(ack.errors) == 101
    assert "400 more issue(s) not listed" in ack.errors[-1]
    assert len(reply) < 20_000  # measured: 12.6 KB; the 500 ERR segments uncapped made 62 KB


def test_msh10_is_cut_in_the_log(server_factory: ServerFactory) -> None:
    """A 150-character MSH-10 (valid in v2.5.1) is logged as its first 40 characters and an ellipsis."""
    server = server_factory()
    cid = "X" * 150
    assert parse_ack(_send(server.port, lab_message(cid))).code == "AA"
    time.sleep(0.3)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    logged = [line["control_id"] for line in lines if line.get("event") == "message" and line.get("control_id")]
    assert logged and all(len(c) <= 41 for c in logged)
    assert "X" * 40 + "…" in logged


def test_a_frame_must_end_within_its_deadline(server_factory: ServerFactory) -> None:
    """A frame that dribbles in, a byte every 0.2 s: cut at frame_timeout (1 s) though bytes keep coming."""
    server = server_factory(frame_timeout=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0)) as s:
        s.settimeout(5)
        closed = False
        for byte in VT + lab_message("SLOW1"):
            try:
                s.send(bytes([byte]))
                time.sleep(0.2)
            except OSError:
                closed = True
                break
            if time.monotonic() - started > 4:
                break
        if not closed:
            s.settimeout(1)
            try:
                closed = s.recv(10) == b""
            except OSError:
                closed = True
    assert closed and time.monotonic() - started < 4
    engine = create_engine(server.db_url)
    with engine.connect() as conn:
        reasons = conn.execute(select(JournalEntry.reason).where(JournalEntry.peer == ATTACKER)).scalars().all()
    engine.dispose()
    assert any("frame not completed in time" in r for r in reasons)


def test_the_soap_listener_has_connection_limits(server_factory: ServerFactory) -> None:
    """max_connections_per_peer 2 on a SOAP channel: a third connection from the address is closed at once."""
    server = server_factory(protocol="soap", max_connections_per_peer=2)
    held = [socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0)) for _ in range(2)]
    try:
        third = socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0))
        third.settimeout(3)
        try:
            assert third.recv(10) == b""  # closed by the hub without a word
        except ConnectionResetError:
            pass
        finally:
            third.close()
        status, _body = _soap(server.port, lab_message("SL1"), charset="")  # another address is served
        assert status == 200
    finally:
        for s in held:
            s.close()


def _soap(port: int, raw: bytes, charset: str) -> tuple[int, str]:
    charset_element = f"<p:charset>{charset}</p:charset>" if charset else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:passerelle:hl7:v1">'
        f"<soap:Body><p:SubmitHL7><p:messageBase64>{base64.b64encode(raw).decode()}</p:messageBase64>"
        f"{charset_element}</p:SubmitHL7></soap:Body></soap:Envelope>"
    ).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/hl7", body=body, headers={"Content-Type": "text/xml; charset=utf-8"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize("hint", ["ISO-8859-1", "rot13", "unicode_escape"])
def test_a_soap_charset_hint_takes_table_0211_values_only(server_factory: ServerFactory, hint: str) -> None:
    """A Python codec name as the SOAP charset hint is AR 103 at MSH-18, never a decoder."""
    server = server_factory(protocol="soap")
    raw = lab_message(f"CH-{hint}").replace(b"Test^Lab", "Hélène^Lab".encode("latin-1"))
    status, body = _soap(server.port, raw, charset=hint)
    assert status == 200 and "<p:ackCode>AR</p:ackCode>" in body and "MSH^1^18" in base64_ack(body)
    ok_status, ok_body = _soap(server.port, raw.replace(b"CH-", b"OK-"), charset="8859/1")
    assert ok_status == 200 and "<p:ackCode>AA</p:ackCode>" in ok_body


def base64_ack(body: str) -> str:
    """The ACK text of a SubmitHL7Response."""
    start = body.index("<p:ackBase64>") + len("<p:ackBase64>")
    return base64.b64decode(body[start : body.index("</p:ackBase64>")]).decode("utf-8", "replace")


def test_a_full_disk_under_stderr_does_not_stop_the_writer(tmp_path: Path) -> None:
    """Standard error on /dev/full (every log write fails): the hub still answers AA."""
    port = free_port()
    config = write_config(tmp_path / "c.yaml", f"sqlite:///{tmp_path / 'h.db'}", port)
    with open("/dev/full", "wb") as full:
        proc = subprocess.Popen([sys.executable, "-m", "hub", "serve", "--config", str(config)], cwd=ROOT, stderr=full)
    try:
        _wait_port(port, proc)
        codes = [parse_ack(_send(port, lab_message(f"DF{n}"))).code for n in range(5)]
        assert codes == ["AA"] * 5
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the hub exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the hub did not listen")


def test_a_worker_that_dies_stops_the_hub_for_its_supervisor(server_factory: ServerFactory) -> None:
    """`serve --workers 2`: one worker killed, the parent stops the other and exits non-zero at once."""
    server = server_factory(workers=2)
    pid = server.proc.pid
    deadline = time.monotonic() + 10
    children: list[int] = []
    while len(children) < 2 and time.monotonic() < deadline:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        time.sleep(0.1)
    assert len(children) == 2
    os.kill(children[0], signal.SIGKILL)
    assert server.proc.wait(15) != 0
