"""MLLP (release 1) over Twisted: VT ... FS CR framing, one ACK per frame, in order.

Framing decisions (rows of ../shared/reference/bad-inputs.md):

- whitespace between frames is skipped (a CR or LF right after FS silently; other, warned);
- any other byte outside a frame is junk: journaled, and the connection is closed (row 3);
- FS CR ends a frame. FS LF and FS VT end it too, with a warning (row 4). FS as the last byte
  received waits ``fs_grace`` seconds for its CR, then ends the frame (FS-only senders). FS
  followed by any other byte is payload, not an end: the parser then refuses the message for
  its control character, so a mis-split message is never half-acknowledged (row 6);
- VT inside a frame means the frame so far was truncated: it gets its own negative ACK and
  a new frame starts (row 5);
- a frame over ``max_frame_bytes`` is journaled with its first bytes, and the connection is
  closed (row 7).

Replies are written in the order of the frames, whatever order the engine answers in.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from hub.interfaces import Defect, Inbound, Reply

from .flow import FlowControl
from .framing import _WHITESPACE, CR, FS, LF, MAX_PENDING, OVERSIZE_KEEP, VT, frame

if TYPE_CHECKING:
    from .factory import MLLPFactory

log = structlog.get_logger("passerelle.mllp")


class MLLPReceiver(FlowControl, Protocol):
    """One connection: reads frames, hands them to the handler, writes ACKs in order."""

    transport: Any  # an ITransport; zope interfaces are opaque to mypy without its plugin

    def __init__(self, factory: MLLPFactory, peer: str) -> None:
        self.factory = factory
        self.peer = peer
        self._buf = bytearray()
        self._in_frame = False
        self._scan = 0  # where to resume looking for FS/VT inside the current frame
        self._after_fs = False  # the previous byte ended a frame: CR/LF expected silently
        self._grace: Any = None  # IDelayedCall: waiting for the CR after a final FS
        self._idle: Any = None  # IDelayedCall: the idle timeout
        self._pending: deque[list[Any]] = deque()
        self._paused = False  # reading is paused (any of the three reasons below)
        self._write_blocked = False  # the peer does not read its ACKs: the transport's buffer is full
        self._waiting_engine = False  # the queue to the writer is full
        self._frame_deadline: Any = None  # IDelayedCall: a frame must complete in time
        self._parsing = False
        self._warned: set[str] = set()
        self._closing = False
        self._peer_fp: str | None = None

    # -- Twisted hooks -------------------------------------------------------------------
    def connectionMade(self) -> None:
        """Start the idle timer; pause reading whenever the peer stops reading what we write."""
        self._idle = self.factory.clock.callLater(self.factory.limits.idle_timeout, self.timeoutConnection)
        self.transport.registerProducer(self, True)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Forget timers and the connection count."""
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        if self._grace is not None and self._grace.active():
            self._grace.cancel()
        self._stop_deadline()
        self.factory.release(self.peer)

    def timeoutConnection(self) -> None:
        """Idle too long: close (the sender reconnects, as ITI TF-2x App. C allows)."""
        log.info("idle_timeout", channel=self.factory.channel, peer=self.peer)
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """Buffer, then cut out every complete frame."""
        if self._idle is not None and self._idle.active():
            self._idle.reset(self.factory.limits.idle_timeout)
        if self._grace is not None and self._grace.active():
            self._grace.cancel()
            self._grace = None
        if self._closing:
            return
        self._buf += data
        self._parse()

    # -- framing -------------------------------------------------------------------------
    def _parse(self) -> None:
        if self._parsing:  # an engine that answers at once calls back into `_flush` from `_emit`
            return
        self._parsing = True
        try:
            self._cut_frames()
        finally:
            self._parsing = False
        if self._in_frame and self._frame_deadline is None and not self._closing:
            self._start_deadline()  # a frame is left open: its deadline runs from this read, its first byte's

    def _cut_frames(self) -> None:
        buf = self._buf
        while buf and not self._closing and self.transport is not None and not self.transport.disconnecting:
            if len(self._pending) >= MAX_PENDING or self._waiting_engine:
                return  # the rest stays in the buffer, bounded: reading is paused until ACKs go out
            if not self.factory.handler.accepting():
                self._waiting_engine = True
                self._update_reading()
                self.factory.handler.when_accepting(self._engine_ready)
                return
            if self._after_fs:
                self._after_fs = False
                if buf[0] in (CR[0], LF[0]):
                    if buf[0] == LF[0]:
                        self._warn("fs_lf", "FS followed by LF")
                    del buf[:1]
                    continue
                if buf[0] == VT[0]:
                    self._warn("fs_only", "FS without CR")
            if not self._in_frame:
                if not self._skip_to_frame():
                    return
                continue
            if not self._read_frame():
                return

    def _skip_to_frame(self) -> bool:
        buf = self._buf
        i = 0
        while i < len(buf) and buf[i] in _WHITESPACE:
            i += 1
        if i:
            self._warn("leading_whitespace", "whitespace before VT")
            del buf[:i]
        if not buf:
            return False
        if buf[0] != VT[0]:
            self._protocol_failure(Defect.JUNK, bytes(buf[:OVERSIZE_KEEP]), len(buf))
            return False
        del buf[:1]
        self._in_frame = True
        self._scan = 0
        return True

    def _read_frame(self) -> bool:
        buf = self._buf
        fs = buf.find(FS, self._scan)
        vt = buf.find(VT, self._scan)
        if vt != -1 and (fs == -1 or vt < fs):
            self._emit(bytes(buf[:vt]), Defect.TRUNCATED)
            del buf[: vt + 1]
            self._scan = 0
            self._stop_deadline()  # a new frame starts: `_parse` gives it its own deadline if it stays open
            return True
        if fs == -1:
            self._scan = len(buf)
            if len(buf) > self.factory.limits.max_frame_bytes:
                self._protocol_failure(Defect.OVERSIZE, bytes(buf[:OVERSIZE_KEEP]), len(buf))
                return False
            return False
        if fs > self.factory.limits.max_frame_bytes:
            self._protocol_failure(Defect.OVERSIZE, bytes(buf[:OVERSIZE_KEEP]), fs)
            return False
        if fs + 1 == len(buf):  # FS is the last byte so far: wait a little for its CR
            self._scan = fs
            if self._grace is None or not self._grace.active():
                self._grace = self.factory.clock.callLater(self.factory.limits.fs_grace, self._fs_timeout)
            return False
        nxt = buf[fs + 1]
        if nxt in (CR[0], LF[0], VT[0]):
            self._emit(bytes(buf[:fs]), None)
            del buf[: fs + 1]
            self._in_frame = False
            self._after_fs = True
            self._stop_deadline()
            return True
        self._scan = fs + 1  # FS inside the payload: keep it as data
        return True

    def _fs_timeout(self) -> None:
        self._grace = None
        buf = self._buf
        if self._in_frame and buf and buf[-1] == FS[0]:
            self._warn("fs_only", "FS without CR")
            self._emit(bytes(buf[:-1]), None)
            buf.clear()
            self._in_frame = False
            self._after_fs = True
            self._stop_deadline()

    def _warn(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("framing", channel=self.factory.channel, peer=self.peer, problem=text)

    # -- dispatch and ordered replies ------------------------------------------------------
    def _inbound(self, raw: bytes, defect: Defect | None, size: int = -1) -> Inbound:
        return Inbound(
            raw=raw,
            peer=self.peer,
            channel=self.factory.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=self._fingerprint(),
            defect=defect,
            size=size,
        )

    def _fingerprint(self) -> str:
        """SHA-256 of the client certificate on a TLS connection ("AB:CD:…"), else ""."""
        if self._peer_fp is None:
            get = getattr(self.transport, "getPeerCertificate", None)
            cert = get() if get is not None else None
            self._peer_fp = cert.digest("sha256").decode("ascii") if cert is not None else ""
        return self._peer_fp

    def _emit(self, payload: bytes, defect: Defect | None) -> None:
        if defect is None and not payload.strip(b" \t\r\n"):
            defect = Defect.EMPTY
        slot: list[Any] = [False, None]
        self._pending.append(slot)
        d = self.factory.handler.handle(self._inbound(payload, defect))
        d.addCallbacks(self._answered, self._failed, callbackArgs=(slot,), errbackArgs=(slot,))
        self._update_reading()

    def _answered(self, reply: Reply | None, slot: list[Any]) -> None:
        slot[0], slot[1] = True, reply
        self._flush()

    def _failed(self, failure: Failure, slot: list[Any]) -> None:
        log.error(
            "handler_failed",
            channel=self.factory.channel,
            peer=self.peer,
            error=getattr(failure.type, "__name__", "error"),
        )
        slot[0], slot[1] = True, None
        self._flush()

    def _flush(self) -> None:
        while self._pending and self._pending[0][0]:
            _done, reply = self._pending.popleft()
            if reply is not None and self.transport is not None:
                self.transport.write(frame(reply.ack))
        if self.transport is not None and self.factory.handler.blocked(self.peer):
            log.warning("peer_blocked", channel=self.factory.channel, peer=self.peer)
            self._closing = True
            self.transport.loseConnection()
            return
        self._update_reading()
        if not self._paused and self._buf and not self._closing:
            self._parse()  # frames that arrived while reading was paused

    def _protocol_failure(self, defect: Defect, head: bytes, size: int) -> None:
        log.warning("protocol_failure", channel=self.factory.channel, peer=self.peer, defect=defect.value, size=size)
        self._stop_deadline()
        self._buf.clear()
        self._in_frame = False
        self.transport.pauseProducing()  # read nothing more; close once the attempt is journaled
        self._closing = True
        d = self.factory.handler.handle(self._inbound(head, defect, size))
        d.addBoth(lambda _: self.transport.loseConnection())
