"""Least-connections accept for `serve --workers N`: every worker accepts from one shared socket.

The parent maps a small table of counters before it forks: one per channel and worker, the
connections that worker holds open on that channel. A worker accepts a new connection only while
it holds no more than the fewest any other live worker holds. Otherwise it stops reading the
socket and looks again a millisecond later, so the connection waits in the kernel's queue for a
worker that holds fewer. The counts of any two workers stay within one of each other.

Each counter has one writer, its worker, so no lock is needed: a stale read only ever sees another
worker's count lower than it is, which makes a worker wait, never take more than its share. A
worker that does not accept for `GRACE_S` while a connection waits (a worker stuck in a long
computation, say) is passed over: the connection is then taken by whoever is free. A counter
reads ABSENT until its worker listens and again once it has exited, and absent workers are
left out of the comparison.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet import tcp

ABSENT = -1
RECHECK_S = 0.001  # how soon a worker that left a connection to the others looks again
GRACE_S = 0.25  # how long a waiting connection is left to the worker that holds fewest
_WIDTH = 8  # one signed 64-bit counter


class Shares:
    """The open-connection counts of every worker on every channel, in memory shared across fork."""

    def __init__(self, channels: Sequence[str], workers: int) -> None:
        self.workers = workers
        self._index = {name: n for n, name in enumerate(channels)}
        self._memory = mmap.mmap(-1, max(1, len(channels) * workers) * _WIDTH)  # MAP_SHARED | MAP_ANONYMOUS
        self._counts = memoryview(self._memory).cast("q")
        for n in range(len(self._counts)):
            self._counts[n] = ABSENT

    def _slot(self, channel: str, worker: int) -> int:
        return self._index[channel] * self.workers + worker

    def count(self, channel: str, worker: int) -> int:
        """What `worker` holds open on `channel` (ABSENT before it listens and after it exits)."""
        return int(self._counts[self._slot(channel, worker)])

    def join(self, channel: str, worker: int) -> None:
        """`worker` listens on `channel`: it counts from zero."""
        self._counts[self._slot(channel, worker)] = 0

    def add(self, channel: str, worker: int, delta: int) -> None:
        """`worker` opened (+1) or closed (-1) a connection on `channel`; only that worker calls this."""
        slot = self._slot(channel, worker)
        if self._counts[slot] != ABSENT:
            self._counts[slot] += delta

    def leave(self, channel: str, worker: int) -> None:
        """`worker` no longer listens on `channel`: the others no longer wait for it there."""
        self._counts[self._slot(channel, worker)] = ABSENT

    def retire(self, worker: int) -> None:
        """`worker` has exited: the others no longer wait for it anywhere (called by the parent)."""
        for channel in self._index:
            self.leave(channel, worker)

    def may_accept(self, channel: str, worker: int) -> bool:
        """Whether `worker` holds no more connections on `channel` than the least loaded other live worker."""
        base = self._index[channel] * self.workers
        mine = self._counts[base + worker]
        others = [c for n, c in enumerate(self._counts[base : base + self.workers]) if n != worker and c != ABSENT]
        return not others or mine <= min(others)


@dataclass(frozen=True)
class Seat:
    """One worker's place among those sharing the sockets: the table, and its index in it."""

    shares: Shares
    worker: int


class _CountedServer(tcp.Server):
    """An accepted connection that its port's worker counts while it is open."""

    def __init__(  # noqa: PLR0917 - tcp.Port builds its transports with these six, by position
        self, sock: Any, protocol: Any, client: Any, server: Any, sessionno: int, reactor: Any
    ) -> None:
        super().__init__(sock, protocol, client, server, sessionno, reactor)
        self._counted_by: BalancedPort = server
        server.opened()

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
        """Closed: the worker holds one fewer."""
        try:
            super().connectionLost(reason)
        finally:
            self._counted_by.closed()


class BalancedPort(tcp.Port):
    """A listening port on the shared socket that accepts one connection at a time, when it is its turn."""

    transport = _CountedServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shares: Shares | None = None
        self.channel = ""
        self.worker = 0
        self._recheck: Any = None
        self._waiting_since: float | None = None
        self._last_wait = 0.0

    @classmethod
    def adopt(cls, reactor: Any, sock: Any, factory: Any, *, seat: Seat, channel: str) -> BalancedPort:
        """Listen on the parent's socket `sock` for `channel`, in the worker's `seat`."""
        port: BalancedPort = cls._fromListeningDescriptor(reactor, sock.fileno(), sock.family, factory)  # type: ignore[no-untyped-call]
        port.shares, port.channel, port.worker = seat.shares, channel, seat.worker
        seat.shares.join(channel, seat.worker)
        port.startListening()
        return port

    def opened(self) -> None:
        """A connection was accepted."""
        if self.shares is not None:
            self.shares.add(self.channel, self.worker, 1)

    def closed(self) -> None:
        """A connection closed."""
        if self.shares is not None:
            self.shares.add(self.channel, self.worker, -1)

    def doRead(self) -> None:  # noqa: N802 - Twisted's name
        """Accept one connection if it is this worker's turn; otherwise leave it and look again soon."""
        if self.shares is not None and not self._my_turn():
            self.stopReading()  # type: ignore[no-untyped-call]
            self._recheck = self.reactor.callLater(RECHECK_S, self._look_again)
            return
        self._waiting_since = None
        self.numberAccepts = 1  # tcp.Port raises it after a full loop: one at a time, the count kept exact
        super().doRead()  # type: ignore[no-untyped-call]

    def _my_turn(self) -> bool:
        assert self.shares is not None
        if self.shares.may_accept(self.channel, self.worker):
            return True
        now: float = self.reactor.seconds()
        if self._waiting_since is None or now - self._last_wait > GRACE_S:
            self._waiting_since = now  # a new wait: the socket was quiet since the last one
        self._last_wait = now
        return now - self._waiting_since >= GRACE_S

    def _look_again(self) -> None:
        self._recheck = None
        if self.connected:
            self.startReading()  # type: ignore[no-untyped-call]

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
        """Stopped listening: no look-again is left behind, and the worker counts as absent."""
        if self._recheck is not None and self._recheck.active():
            self._recheck.cancel()
        self._recheck = None
        if self.shares is not None:
            self.shares.leave(self.channel, self.worker)
        super().connectionLost(reason)  # type: ignore[no-untyped-call]
