"""Flow control for one MLLP connection: when to stop reading, and how long a frame may take.

Reading pauses while 64 frames await their ACK (resuming below 32), while the queue to the
writer is full, or while the peer does not read what is written to it (the transport's write
buffer is full: the receiver is the transport's push producer). A frame must end within the
channel's frame timeout of its first byte.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hub.interfaces import Defect

from .framing import MAX_PENDING, OVERSIZE_KEEP


class FlowControl:
    """The part of a receiver that decides whether its transport is read."""

    transport: Any
    factory: Any  # the MLLPFactory
    _buf: bytearray
    _pending: deque[list[Any]]
    _paused: bool
    _closing: bool
    _in_frame: bool
    _write_blocked: bool
    _waiting_engine: bool
    _frame_deadline: Any

    # Defined by the receiver: cut the buffered frames; report a framing defect and close.
    _parse: Callable[[], None]
    _protocol_failure: Callable[[Defect, bytes, int], None]

    # IPushProducer, for the transport's write side: a peer that never reads its ACKs fills the
    # transport's buffer; we then stop reading its frames, so no more ACKs pile up.
    def pauseProducing(self) -> None:
        """The transport's write buffer is full."""
        self._write_blocked = True
        self._update_reading()

    def resumeProducing(self) -> None:
        """The transport's write buffer drained."""
        self._write_blocked = False
        self._update_reading()

    def stopProducing(self) -> None:
        """The connection is going away."""
        self._closing = True

    # -- back-pressure and deadlines -------------------------------------------------------
    def _update_reading(self) -> None:
        """Read while ACKs are few, the engine takes frames and the peer reads its ACKs."""
        if self.transport is None or self._closing:
            return
        pending = len(self._pending)
        limit = MAX_PENDING // 2 if self._paused else MAX_PENDING  # hysteresis: resume well below the pause
        pause = pending >= limit or self._waiting_engine or self._write_blocked
        if pause and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        elif not pause and self._paused:
            self._paused = False
            self.transport.resumeProducing()

    def _engine_ready(self) -> None:
        self._waiting_engine = False
        self._update_reading()
        if not self._paused and self._buf and not self._closing:
            self._parse()

    def _start_deadline(self) -> None:
        """A frame has begun: it must end within `frame_timeout` of its first byte."""
        self._stop_deadline()
        self._frame_deadline = self.factory.clock.callLater(self.factory.limits.frame_timeout, self._frame_expired)

    def _stop_deadline(self) -> None:
        if self._frame_deadline is not None and self._frame_deadline.active():
            self._frame_deadline.cancel()
        self._frame_deadline = None

    def _frame_expired(self) -> None:
        """A frame still open past its deadline (a slow peer): journaled, and the connection closed."""
        self._frame_deadline = None
        if self._in_frame and not self._closing:
            self._protocol_failure(Defect.SLOW, bytes(self._buf[:OVERSIZE_KEEP]), len(self._buf))
