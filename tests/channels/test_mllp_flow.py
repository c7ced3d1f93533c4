"""When an MLLP connection is read: frames awaiting ACKs, a full writer queue, a peer that reads nothing."""

from __future__ import annotations

from fakes import RecordingHandler, Transport, attach, peer, reply
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock

from channels.mllp import MAX_PENDING, Limits, MLLPFactory, MLLPReceiver, frame

M = b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|ONE|P|2.5.1\rPID|1\r"


def connect(handler: RecordingHandler, **limits: float) -> tuple[MLLPReceiver, Transport, Clock]:
    """A receiver on a StringTransport with a fake clock."""
    clock = Clock()
    factory = MLLPFactory("lab", handler, Limits(**limits), clock=IReactorTime(clock))  # type: ignore[arg-type]
    proto = factory.buildProtocol(peer("10.0.0.1"))
    assert proto is not None
    transport = Transport()
    attach(proto, transport)
    return proto, transport, clock


def test_one_read_of_many_frames_cuts_no_more_than_the_pending_limit() -> None:
    """200 frames in one read: 64 go to the engine, the rest wait in the buffer until ACKs go out."""
    handler = RecordingHandler(manual=True)
    proto, transport, _ = connect(handler)
    proto.dataReceived(frame(M) * 200)
    assert len(handler.received) == MAX_PENDING
    assert transport.producerState == "paused"
    first = list(handler.waiting)
    for _inbound, d in first:
        d.callback(reply(b"ok"))
    # As the ACKs left, the next frames were cut from the buffer, never more than 64 awaiting at once.
    assert MAX_PENDING < len(handler.received) <= len(first) + MAX_PENDING


def test_a_full_writer_queue_pauses_reading_until_it_drains() -> None:
    """While the engine takes no more, no frame is cut and the transport is paused; then it resumes."""
    handler = RecordingHandler()
    handler.full = True
    proto, transport, _ = connect(handler)
    proto.dataReceived(frame(M) * 3)
    assert handler.received == [] and transport.producerState == "paused"
    handler.drain()
    assert len(handler.received) == 3 and transport.producerState == "producing"


def test_a_peer_that_does_not_read_its_acks_is_not_read() -> None:
    """The transport's write buffer is full (it pauses its producer): reading stops until it drains."""
    handler = RecordingHandler()
    proto, transport, _ = connect(handler)
    assert transport.producer is proto  # the receiver is its transport's push producer
    proto.pauseProducing()
    assert transport.producerState == "paused"
    proto.resumeProducing()
    assert transport.producerState == "producing"


def test_a_frame_past_its_deadline_is_a_defect_and_closes() -> None:
    """A frame started and not ended within frame_timeout, bytes arriving all along: SLOW, closed."""
    handler = RecordingHandler()
    proto, transport, clock = connect(handler, frame_timeout=1.0)
    proto.dataReceived(b"\x0bMSH|")
    for _ in range(5):
        clock.advance(0.3)
        proto.dataReceived(b"x")
    assert [i.defect.value for i in handler.received if i.defect] == ["slow"]
    assert transport.disconnecting


def test_a_frame_left_open_after_a_complete_one_gets_its_own_deadline() -> None:
    """One read holds a whole frame and the start of the next: only the open one is timed, from that read."""
    handler = RecordingHandler()
    proto, transport, clock = connect(handler, frame_timeout=1.0)
    proto.dataReceived(frame(M))
    assert len(clock.getDelayedCalls()) == 1  # the idle timer alone: a frame that ended is not timed
    proto.dataReceived(frame(M) + b"\x0bMSH|")
    clock.advance(0.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert [i.defect.value for i in handler.received if i.defect] == ["slow"]
    assert transport.disconnecting


def test_a_truncated_frame_restarts_the_deadline_for_the_frame_after_it() -> None:
    """VT inside a frame ends it (truncated); the frame it starts has the whole frame_timeout."""
    handler = RecordingHandler()
    proto, transport, clock = connect(handler, frame_timeout=1.0)
    proto.dataReceived(b"\x0bMSH|first")
    clock.advance(0.8)
    proto.dataReceived(b"\x0bMSH|second")
    assert [i.defect.value for i in handler.received if i.defect] == ["truncated"]
    clock.advance(0.9)  # 1.7 s after the first frame began, 0.9 s after the second
    assert not transport.disconnecting
    clock.advance(0.2)
    assert [i.defect.value for i in handler.received if i.defect] == ["truncated", "slow"]
    assert transport.disconnecting
