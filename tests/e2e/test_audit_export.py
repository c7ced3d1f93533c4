"""The audit export of a real hub: security events reach a TLS syslog collector exactly once.

The collector is down while the events happen, the hub restarts meanwhile, and the collector
stops and starts again: every event arrives once, in journal order, as a DICOM audit message.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from collector import Collector, collector_pki
from domain_hub import send
from helpers import lab_message
from lxml import etree
from servers import Server, ServerFactory, free_port
from sqlalchemy import create_engine, select

from hub.store.models import AuditOutbox

pytestmark = pytest.mark.slow


def _sign_in_wrongly(port: int, username: str) -> int:
    """A console sign-in with a wrong password, through the form and its CSRF cookie: the HTTP status."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
    assert csrf is not None
    form = urllib.parse.urlencode({"username": username, "password": "not-it", "code": "000000", "csrf": csrf[1]})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", data=form.encode(), headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the http URL just built
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _outbox(db_url: str) -> list[tuple[int, bool]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(AuditOutbox.seq, AuditOutbox.sent_at).order_by(AuditOutbox.seq)).all()
    finally:
        engine.dispose()
    return [(r.seq, r.sent_at is not None) for r in rows]


def _wait_for(sink: Collector, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(sink.frames) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sink.frames) >= count, f"{len(sink.frames)} of {count} events arrived"


def _hub(server_factory: ServerFactory, db_url: str, files: dict[str, Path], ports: tuple[int, int, int]) -> Server:
    lab, console, collector = ports
    export = {
        "collector": f"127.0.0.1:{collector}",
        "tls": {"ca": str(files["ca"]), "certificate": str(files["cert"]), "key": str(files["key"])},
        "retry_seconds": 0.2,
        "poll_seconds": 0.2,
    }
    channel = {"name": "console", "protocol": "console", "listen": f"tcp:{console}:interface=127.0.0.1"}
    return server_factory(db_url=db_url, port=lab, extra_channels=[channel], audit_export=export)


def test_every_security_event_arrives_once_across_collector_and_hub_restarts(
    server_factory: ServerFactory, db_url: str, tmp_path: Path
) -> None:
    """Refused links and failed sign-ins while the collector is down, a hub restart, a second outage."""
    files = collector_pki(tmp_path)
    ports = (free_port(), free_port(), free_port())
    sink = Collector(ports[2], files["server_cert"], files["server_key"], files["ca"])
    hub = _hub(server_factory, db_url, files, ports)
    assert [a.code for a in send(hub.port, lab_message("R1", fac="NOWHERE"), lab_message("R2", fac="NOWHERE"))] == [
        "AR",
        "AR",
    ]
    assert _sign_in_wrongly(ports[1], "mallory") == 401
    assert [a.code for a in send(hub.port, lab_message("OK1"))] == ["AA"]  # not a security event
    hub.stop()
    hub = _hub(server_factory, db_url, files, ports)
    assert _sign_in_wrongly(ports[1], "mallory") == 401
    time.sleep(1)  # the restarted hub tries, and fails, to reach the collector
    pending = _outbox(db_url)
    assert len(pending) == 4 and not any(sent for _, sent in pending), "kept, none sent while it is down"

    sink.start()
    try:
        _wait_for(sink, 4)
    finally:
        sink.stop()
    assert [send(hub.port, lab_message("R3", fac="NOWHERE"))[0].code] == ["AR"]
    time.sleep(1)
    sink.start()
    try:
        _wait_for(sink, 5)
        time.sleep(1)  # anything sent twice would have arrived by now
    finally:
        sink.stop()

    final = _outbox(db_url)
    assert sink.seqs() == [seq for seq, _ in final], "each event once, in journal order"
    assert all(sent for _, sent in final)
    kinds = [f.kind for f in sink.frames]
    assert kinds == ["link-refused", "link-refused", "signin-failed", "signin-failed", "link-refused"]
    for frame in sink.frames:
        message = etree.fromstring(frame.payload)
        assert message.tag == "AuditMessage" and frame.msgid == "IHE+RFC-3881"
        assert b"mallory" not in frame.payload or frame.kind == "signin-failed"
