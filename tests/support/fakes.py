"""Fakes at the seams, for tests of the transports and the engine (as structlog.testing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport

from hub.cli.client import Ack, parse_ack
from hub.engine.outcome import Prepared, Verdict
from hub.interfaces import Inbound, Outcome, Reply


class Transport(StringTransport):
    """Twisted's StringTransport, with the calls the tests make typed (Twisted leaves them unannotated)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def value(self) -> bytes:
        """Everything written so far."""
        return bytes(super().value())  # type: ignore[no-untyped-call]


def attach(proto: Protocol, transport: StringTransport) -> None:
    """``proto.makeConnection(transport)``."""
    proto.makeConnection(transport)  # type: ignore[no-untyped-call]


def peer(host: str = "10.0.0.1", port: int = 5000) -> IAddress:
    """A TCP peer address, as the reactor hands it to ``buildProtocol``."""
    return IAddress(IPv4Address("TCP", host, port))


def reply(ack: bytes, code: Outcome = Outcome.AA) -> Reply:
    """A reply as the engine gives it, for a transport test."""
    return Reply(code, ack, code)


def ack_of(answer: Reply | None) -> Ack:
    """The ACK segments of an engine reply, checking that the code it carries is the one it sent."""
    assert answer is not None
    ack = parse_ack(answer.ack)
    assert ack.code == answer.code.value, (ack.code, answer.code)
    return ack


class RecordingHandler:
    """A MessageHandler that records every Inbound and answers through a plain function.

    With ``manual=True`` the Deferreds are kept unfired in ``waiting`` so a test can answer
    them in any order.
    """

    def __init__(self, answer: Callable[[Inbound], bytes | None] | None = None, manual: bool = False) -> None:
        self.answer = answer or (lambda inbound: b"ACK:" + inbound.raw[:12])
        self.manual = manual
        self.received: list[Inbound] = []
        self.waiting: list[tuple[Inbound, Deferred[Reply | None]]] = []
        self.blocked_peers: set[str] = set()
        self.full = False
        self.ready_callbacks: list[Callable[[], None]] = []

    def blocked(self, peer: str) -> bool:
        """True for the peers listed in ``self.blocked_peers``."""
        return peer in self.blocked_peers

    def accepting(self) -> bool:
        """False while ``self.full`` is set (a full queue to the writer)."""
        return not self.full

    def when_accepting(self, callback: Callable[[], None]) -> None:
        """Call back now, or when `drain` is called."""
        if self.full:
            self.ready_callbacks.append(callback)
        else:
            callback()

    def drain(self) -> None:
        """The queue has room again: wake the transports waiting for it."""
        self.full = False
        callbacks, self.ready_callbacks = self.ready_callbacks, []
        for callback in callbacks:
            callback()

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Record, then answer now (or later when manual)."""
        self.received.append(inbound)
        if self.manual:
            d: Deferred[Reply | None] = Deferred()
            self.waiting.append((inbound, d))
            return d
        ack = self.answer(inbound)
        return succeed(None if ack is None else reply(ack))


class FailingStore:
    """A store whose commit always fails, as a database outage does."""

    checks_directory = False

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or ConnectionError("database unavailable")
        self.calls = 0

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Raise the configured error."""
        self.calls += 1
        raise self.error
