"""MLLP framing, ordering and limits, through StringTransport (no socket, no reactor)."""

from __future__ import annotations

import pytest
from fakes import RecordingHandler, Transport, attach, peer, reply
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock

from channels.mllp import Limits, MLLPFactory, MLLPReceiver, frame
from hub.interfaces import Defect

M1 = b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|ONE|P|2.5.1\rPID|1\r"
M2 = b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|TWO|P|2.5.1\rPID|2\r"


def connect(
    handler: RecordingHandler, limits: Limits | None = None, host: str = "10.0.0.1"
) -> tuple[MLLPReceiver, Transport, Clock]:
    """A receiver on a StringTransport with a fake clock."""
    limits = limits or Limits()
    clock = Clock()
    factory = MLLPFactory("lab", handler, limits, clock=IReactorTime(clock))
    proto = factory.buildProtocol(peer(host))
    assert proto is not None
    transport = Transport()
    attach(proto, transport)
    return proto, transport, clock


def feed(proto: MLLPReceiver, data: bytes, size: int) -> None:
    """Deliver `data` in chunks of `size` bytes."""
    for i in range(0, len(data), size):
        proto.dataReceived(data[i : i + size])


@pytest.mark.parametrize("size", [*range(1, 10), 10_000])
def test_frames_survive_every_chunking(size: int) -> None:
    """Two frames split in chunks of 1..9 bytes (and in one read) give the same two messages."""
    handler = RecordingHandler()
    proto, transport, _ = connect(handler)
    feed(proto, frame(M1) + frame(M2), size)
    assert [i.raw for i in handler.received] == [M1, M2]
    assert transport.value() == frame(b"ACK:" + M1[:12]) + frame(b"ACK:" + M2[:12])
    assert not transport.disconnecting


def test_replies_go_out_in_frame_order() -> None:
    """When the engine answers the second frame first, the ACKs still leave in order."""
    handler = RecordingHandler(manual=True)
    proto, transport, _ = connect(handler)
    proto.dataReceived(frame(M1) + frame(M2))
    (_, d1), (_, d2) = handler.waiting
    d2.callback(reply(b"two"))
    assert transport.value() == b""
    d1.callback(reply(b"one"))
    assert transport.value() == frame(b"one") + frame(b"two")


def test_no_reply_writes_nothing() -> None:
    """A None reply (an inbound ACK) writes nothing and keeps the connection."""
    proto, transport, _ = connect(RecordingHandler(lambda i: None))
    proto.dataReceived(frame(M1))
    assert transport.value() == b""
    assert not transport.disconnecting


def test_leading_whitespace_is_tolerated() -> None:
    """Whitespace before VT is skipped (row 2)."""
    handler = RecordingHandler()
    proto, _, _ = connect(handler)
    proto.dataReceived(b"\r\n  " + frame(M1))
    assert [i.raw for i in handler.received] == [M1]


def test_junk_without_vt_closes_and_is_reported() -> None:
    """Bytes that are not a frame close the connection and reach the handler for the journal (row 3)."""
    handler = RecordingHandler()
    proto, transport, _ = connect(handler)
    proto.dataReceived(M1 + b"\x1c\r")
    assert transport.disconnecting
    assert handler.received[0].defect is Defect.JUNK
    assert transport.value() == b""


@pytest.mark.parametrize("trailer", [b"\x1c\n", b"\x1c\x0b"])
def test_fs_without_cr_is_tolerated(trailer: bytes) -> None:
    """FS LF and FS followed by the next VT both end a frame (row 4)."""
    handler = RecordingHandler()
    proto, _, _ = connect(handler)
    data = b"\x0b" + M1 + trailer + (M2 + b"\x1c\r" if trailer.endswith(b"\x0b") else b"")
    proto.dataReceived(data)
    expected = [M1, M2] if trailer.endswith(b"\x0b") else [M1]
    assert [i.raw for i in handler.received] == expected


def test_fs_as_last_byte_waits_for_grace_then_ends_the_frame() -> None:
    """An FS-only sender is served once the grace period passes."""
    handler = RecordingHandler()
    proto, _, clock = connect(handler, Limits(fs_grace=0.2))
    proto.dataReceived(b"\x0b" + M1 + b"\x1c")
    assert handler.received == []
    clock.advance(0.3)
    assert [i.raw for i in handler.received] == [M1]


@pytest.mark.parametrize("size", [1, 3, 10_000])
def test_fs_inside_payload_stays_in_the_message(size: int) -> None:
    """FS followed by data is payload: one message, whole, whatever the chunking (row 6)."""
    handler = RecordingHandler()
    proto, _, _ = connect(handler)
    body = M1[:20] + b"\x1c" + M1[20:]
    feed(proto, frame(body), size)
    assert [i.raw for i in handler.received] == [body]


def test_vt_inside_a_frame_marks_the_remnant_truncated() -> None:
    """A VT before FS: the remnant is reported truncated and the next frame is read (row 5)."""
    handler = RecordingHandler()
    proto, _, _ = connect(handler)
    proto.dataReceived(b"\x0b" + M1[:30] + frame(M2))
    assert [(i.raw, i.defect) for i in handler.received] == [(M1[:30], Defect.TRUNCATED), (M2, None)]


def test_empty_frame_is_reported_empty() -> None:
    """VT FS CR gives an EMPTY defect, answered by the engine (row 1)."""
    handler = RecordingHandler()
    proto, _, _ = connect(handler)
    proto.dataReceived(b"\x0b\x1c\r")
    assert handler.received[0].defect is Defect.EMPTY


@pytest.mark.parametrize("terminated", [True, False])
def test_oversize_frame_closes_the_connection(terminated: bool) -> None:
    """A frame over the cap closes the connection with bounded memory (row 7)."""
    handler = RecordingHandler()
    proto, transport, _ = connect(handler, Limits(max_frame_bytes=2048))
    big = b"MSH|" + b"x" * 5000
    proto.dataReceived(b"\x0b" + big + (b"\x1c\r" if terminated else b""))
    assert transport.disconnecting
    inbound = handler.received[0]
    assert inbound.defect is Defect.OVERSIZE and len(inbound.raw) <= 1024 and inbound.size >= 5000


def test_idle_connections_are_closed() -> None:
    """After the idle timeout the connection is closed."""
    _, transport, clock = connect(RecordingHandler(), Limits(idle_timeout=5))
    clock.advance(6)
    assert transport.disconnecting


def test_connection_limits_per_channel_and_per_peer() -> None:
    """BuildProtocol refuses past the channel and per-peer limits, and counts closes."""
    factory = MLLPFactory(
        "lab", RecordingHandler(), Limits(max_connections=3, max_connections_per_peer=2), clock=IReactorTime(Clock())
    )
    a1 = factory.buildProtocol(peer("10.0.0.1", 1))
    a2 = factory.buildProtocol(peer("10.0.0.1", 2))
    assert a1 is not None and a2 is not None
    assert factory.buildProtocol(peer("10.0.0.1", 3)) is None
    b1 = factory.buildProtocol(peer("10.0.0.2", 1))
    assert b1 is not None
    assert factory.buildProtocol(peer("10.0.0.3", 1)) is None
    attach(a1, Transport())
    a1.connectionLost()
    assert factory.buildProtocol(peer("10.0.0.1", 4)) is not None


def test_reading_pauses_when_too_many_acks_are_pending() -> None:
    """A sender that pipelines without reading ACKs is paused, then resumed."""
    handler = RecordingHandler(manual=True)
    proto, transport, _ = connect(handler)
    proto.dataReceived(frame(M1) * 64)
    assert transport.producerState == "paused"
    for _, d in handler.waiting:
        d.callback(reply(b"ok"))
    assert transport.producerState == "producing"


def test_handler_failure_does_not_hang_the_queue() -> None:
    """An errback from the engine answers nothing for that frame but later frames still go out."""
    handler = RecordingHandler(manual=True)
    proto, transport, _ = connect(handler)
    proto.dataReceived(frame(M1) + frame(M2))
    (_, d1), (_, d2) = handler.waiting
    d1.errback(RuntimeError("boom"))
    d2.callback(reply(b"two"))
    assert transport.value() == frame(b"two")
    assert isinstance(d1, Deferred)
