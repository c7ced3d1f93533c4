"""The audit export: the outbox filled in the event's transaction, the payloads, and the delivery."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from collector import Collector, collector_pki
from commands import invoke
from fhir_check import valid
from guards import lift_guards
from lxml import etree
from servers import free_port
from sqlalchemy import Engine, select, text

from hub.config.model import AuditExportConfig
from hub.engine.export import Exporter, backlog, pending
from hub.governance.atna import Source
from hub.governance.journal import ChainWriter, record_verification, verify
from hub.store.db import make_engine, upgrade
from hub.store.models import AuditOutbox

SOURCE = Source(site="DSQ", source_id="PASSERELLE@test", hostname="test", enterprise_number=32473, version="0.1.0")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated repository."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, the collector's server certificate and the hub's client certificate."""
    return collector_pki(tmp_path)


def collector(pki: dict[str, Path], port: int, **options: Any) -> Collector:
    """A collector on `port`, not started."""
    return Collector(port, pki["server_cert"], pki["server_key"], pki["ca"], **options)


def exporter(
    engine: Engine, pki: dict[str, Path], port: int, fmt: str = "dicom", *, client_cert: bool = True
) -> Exporter:
    """An exporter to 127.0.0.1:`port`, with the hub's client certificate unless told otherwise."""
    tls: dict[str, Any] = {"ca": pki["ca"]}
    if client_cert:
        tls |= {"certificate": pki["cert"], "key": pki["key"]}
    config = AuditExportConfig(collector=f"127.0.0.1:{port}", tls=tls, format=fmt, timeout_seconds=5)
    return Exporter(engine, config, SOURCE)


def write(engine: Engine, *entries: dict[str, Any]) -> None:
    """Journal these entries in one transaction, as the hub does."""
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        for entry in entries:
            chain.append({"at": datetime.now(UTC), "sha256": "", "size": 0, **entry})
        chain.close()


REFUSED = {"status": "refused", "channel": "lab", "peer": "10.1.2.3:4567", "sending_application": "LIS",
           "sending_facility": "NOWHERE", "decision": "unknown-partner", "reason": "no such partner"}  # fmt: skip
SIGNIN = {"status": "operator.signin-fail", "operator": "bob", "reason": "bad code"}
ACCEPTED = {"status": "accepted", "channel": "lab", "control_id": "C1"}
DENIED = {"status": "consult.denied", "partner_id": "dme", "patient_id": 7, "decision": "refusal",
          "detail": json.dumps({"practitioner": "p-1001", "purpose": "TREAT"})}  # fmt: skip


def outbox_rows(engine: Engine) -> list[tuple[int, str, bool]]:
    """(seq, kind, sent) of every outbox row."""
    with engine.connect() as conn:
        rows = conn.execute(select(AuditOutbox.seq, AuditOutbox.kind, AuditOutbox.sent_at).order_by(AuditOutbox.seq))
        return [(r.seq, r.kind, r.sent_at is not None) for r in rows]


def test_security_events_enter_the_outbox_with_their_entry_and_only_then(engine: Engine) -> None:
    """Refusals and failed sign-ins are exported; an accepted message or a good verification is not."""
    write(engine, ACCEPTED, REFUSED, SIGNIN, {"status": "journal.verify", "decision": "ok"})
    assert outbox_rows(engine) == [(2, "link-refused", False), (3, "signin-failed", False)]
    with engine.connect() as conn, conn.begin() as tx:
        chain = ChainWriter(conn)
        chain.append({"at": datetime.now(UTC), "sha256": "", "size": 0, **REFUSED})
        chain.close()
        tx.rollback()  # the transaction fails after the entry was written
    assert len(outbox_rows(engine)) == 2, "a rolled-back entry leaves no event behind"


def test_a_broken_chain_found_by_verify_is_a_security_event(engine: Engine) -> None:
    """An edited entry found by a verification is exported as journal-broken."""
    write(engine, ACCEPTED, ACCEPTED)
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE journal SET control_id = 'EDITED' WHERE seq = 1"))
    result = verify(engine)
    assert result[0] is not None
    record_verification(engine, "alice", result)
    assert outbox_rows(engine) == [(3, "journal-broken", False)]


def test_the_dicom_audit_message_names_the_event_without_phi(engine: Engine) -> None:
    """DICOM PS3.15: Security Alert / Node Authentication for a refusal; the patient as an internal number."""
    write(engine, REFUSED, DENIED)
    batch = pending(engine, SOURCE, "dicom", 10)
    refused, denied = (f.split(b"\xef\xbb\xbf", 1) for f in batch.frames)
    assert refused[0].split(b" ", 1)[1].startswith(b"<85>1 "), "facility 10, severity 5"
    assert b" IHE+RFC-3881 " in refused[0]
    xml = etree.fromstring(refused[1])
    assert xml.tag == "AuditMessage"
    assert _attr(xml, "EventIdentification/EventID", "csd-code") == "110113"
    assert _attr(xml, "EventIdentification/EventTypeCode", "csd-code") == "110126"
    assert _attr(xml, "EventIdentification", "EventOutcomeIndicator") == "4"
    assert _attr(xml, "ActiveParticipant", "UserID") == "LIS|NOWHERE"
    assert _attr(xml, "ActiveParticipant", "NetworkAccessPointID") == "10.1.2.3"
    assert _attr(xml, "AuditSourceIdentification", "AuditSourceID") == "PASSERELLE@test"
    about = etree.fromstring(denied[1])
    assert _attr(about, "ParticipantObjectIdentification", "ParticipantObjectID") == "7"
    assert _attr(about, "ParticipantObjectIdentification", "ParticipantObjectTypeCodeRole") == "1"
    assert [p.get("UserID") for p in about.findall("ActiveParticipant")][:2] == ["dme", "p-1001"]


def _attr(xml: Any, path: str, name: str) -> str:
    found = xml.find(path)
    assert found is not None, path
    return str(found.get(name))


def test_the_fhir_payload_is_a_valid_r4_audit_event(engine: Engine) -> None:
    """format: fhir sends AuditEvent JSON that fhir.resources validates."""
    write(engine, DENIED, SIGNIN)
    batch = pending(engine, SOURCE, "fhir", 10)
    events = [json.loads(f.split(b"\xef\xbb\xbf", 1)[1]) for f in batch.frames]
    for event in events:
        valid(event)
    assert events[0]["type"]["code"] == "110110" and events[0]["outcome"] == "4"
    assert events[0]["entity"][0]["what"]["identifier"]["value"] == "7"
    assert events[1]["subtype"][0]["code"] == "110122"
    assert b" IHE+FHIR " in batch.frames[0]


def test_events_wait_while_the_collector_is_down_then_arrive_once_in_order(
    engine: Engine, pki: dict[str, Path]
) -> None:
    """Nothing is lost while the collector is down, and nothing is sent twice once it is back."""
    port = free_port()
    sink, sender = collector(pki, port), exporter(engine, pki, port)
    write(engine, REFUSED, ACCEPTED, SIGNIN)
    with pytest.raises(ConnectionRefusedError):
        sender.drain()
    assert backlog(engine) == 2
    sink.start()
    try:
        assert sender.drain() == 2
        write(engine, DENIED)
        assert sender.drain() == 1
        assert sender.drain() == 0
    finally:
        sink.stop()
    assert sink.seqs() == [1, 3, 4]
    assert [f.kind for f in sink.frames] == ["link-refused", "signin-failed", "consult-denied"]
    assert backlog(engine) == 0


def test_a_collector_that_drops_the_connection_gets_the_batch_again(engine: Engine, pki: dict[str, Path]) -> None:
    """A reset before the collector's close_notify marks nothing sent: the batch goes again."""
    port = free_port()
    rude, sender = collector(pki, port, reset_after_first=True), exporter(engine, pki, port)
    write(engine, REFUSED, SIGNIN)
    rude.start()
    try:
        with pytest.raises(ConnectionResetError):
            sender.drain()
    finally:
        rude.stop()
    assert backlog(engine) == 2, "nothing is marked sent without the collector's close"
    polite = collector(pki, port)
    polite.start()
    try:
        assert sender.drain() == 2
    finally:
        polite.stop()
    assert rude.seqs() + polite.seqs() == [1, 1, 2], "the resend carries the same sequence number"


def test_the_collector_refuses_a_hub_without_a_client_certificate(engine: Engine, pki: dict[str, Path]) -> None:
    """A refused client certificate (a TLS 1.3 alert after the handshake) is not taken for a delivery."""
    port = free_port()
    sink = collector(pki, port)
    write(engine, REFUSED)
    sink.start()
    try:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):  # the alert, or a reset if it closed first
            exporter(engine, pki, port, client_cert=False).drain()
    finally:
        sink.stop()
    assert sink.frames == [] and backlog(engine) == 1


def test_one_process_sends_at_a_time(engine: Engine, pki: dict[str, Path]) -> None:
    """Workers and nodes share a lease: only its holder sends."""
    first, second = exporter(engine, pki, 1), exporter(engine, pki, 1)
    assert first.take_lease() and first.take_lease(), "the holder renews"
    assert not second.take_lease()
    write(engine, REFUSED)
    assert second.drain() == 0, "without the lease it sends nothing (and does not try)"
    first.release()
    assert second.take_lease()


def test_audit_status_and_check_config(engine: Engine, db_url: str, pki: dict[str, Path], tmp_path: Path) -> None:
    """`passerelle audit status` counts what waits; a bad audit_export block is one located line."""
    write(engine, REFUSED, ACCEPTED, SIGNIN)
    config = tmp_path / "c.yaml"
    tls = f"{{ca: {pki['ca']}, certificate: {pki['cert']}, key: {pki['key']}}}"
    config.write_text(f"database: {{url: '{db_url}'}}\naudit_export: {{collector: '127.0.0.1:6514', tls: {tls}}}\n")
    result = invoke("audit", "status", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert (state["waiting"], state["oldest_waiting"]["seq"], state["collector"]) == (2, 1, "127.0.0.1:6514")
    config.write_text(f"database: {{url: '{db_url}'}}\naudit_export: {{collector: '127.0.0.1:6514', tls: {{ca: x}}}}\n")
    result = invoke("check-config", "--config", str(config))
    assert result.exit_code != 0
    assert "audit_export.tls.ca: file not found" in result.output
