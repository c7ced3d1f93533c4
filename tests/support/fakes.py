"""Fakes at the seams, for tests of the transports and the engine (as structlog.testing)."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, succeed

from hub.cli.client import Ack, parse_ack
from hub.interfaces import Inbound, Outcome, Reply


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

    def blocked(self, peer: str) -> bool:
        """True for the peers listed in ``self.blocked_peers``."""
        return peer in self.blocked_peers

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

    def commit(self, batch: object) -> list[object]:
        """Raise the configured error."""
        self.calls += 1
        raise self.error
