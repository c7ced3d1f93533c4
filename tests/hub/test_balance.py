"""Least-connections accept (hub/engine/balance.py): two workers' ports on one real listening socket.

The reactor is Twisted's memory reactor with a clock, so the test decides which port gets to read
and when the clock moves; the accepts themselves are real, on a loopback socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from hub.engine.balance import ABSENT, GRACE_S, RECHECK_S, BalancedPort, Seat, Shares


def _reactor() -> Any:
    """Twisted's memory reactor with a clock: readers are recorded, time moves when told."""
    return MemoryReactorClock()  # type: ignore[no-untyped-call]


class _Recording(Factory):
    def __init__(self) -> None:
        self.protocols: list[Protocol] = []

    def buildProtocol(self, addr: object) -> Protocol:  # noqa: N802 - Twisted's name
        protocol = Protocol()
        self.protocols.append(protocol)
        return protocol


class Listening:
    """A real loopback listening socket, as a `--workers` parent binds it, and the clients connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.clients: list[socket.socket] = []

    def connect(self, n: int) -> None:
        """Open `n` connections; the kernel completes them, and they wait to be accepted."""
        self.clients += [socket.create_connection(self.sock.getsockname()) for _ in range(n)]


@pytest.fixture
def listening() -> Iterator[Listening]:
    """A listening socket, closed with its clients after the test."""
    ready = Listening()
    yield ready
    for c in ready.clients:
        c.close()
    ready.sock.close()


def _run(reactor: Any, ports: list[Any], rounds: int = 200, stuck: set[int] | None = None) -> None:
    """Let the reactor go round: every reading port (but the stuck ones) reads, then the clock moves."""
    for _ in range(rounds):
        for n, port in enumerate(ports):
            if port in reactor.getReaders() and n not in (stuck or set()):
                port.doRead()
        reactor.advance(RECHECK_S)


def _ports(reactor: Any, listening: Listening, shares: Shares) -> tuple[list[Any], list[_Recording]]:
    """Worker 0's and worker 1's ports on the one socket, with their factories."""
    factories = [_Recording(), _Recording()]
    seats = [Seat(shares, w) for w in (0, 1)]
    ports = [BalancedPort.adopt(reactor, listening.sock, factories[w], seat=seats[w], channel="lab") for w in (0, 1)]
    return list(ports), factories


def test_a_burst_of_connections_is_split_evenly(listening: Listening) -> None:
    """8 connections waiting at once: 4 each, though port 0 always reads first (a plain port takes all 8)."""
    reactor, shares = _reactor(), Shares(["lab"], 2)
    ports, factories = _ports(reactor, listening, shares)
    listening.connect(8)
    _run(reactor, ports)
    assert [len(f.protocols) for f in factories] == [4, 4]
    assert [shares.count("lab", w) for w in (0, 1)] == [4, 4]


def test_the_plain_port_takes_the_whole_burst(listening: Listening) -> None:
    """What balancing fixes: without it, whichever port reads first accepts everything waiting."""
    reactor = _reactor()
    factories = [_Recording(), _Recording()]
    sock = listening.sock
    adopt: Any = tcp.Port._fromListeningDescriptor
    ports = [adopt(reactor, sock.fileno(), sock.family, f) for f in factories]
    for port in ports:
        port.startListening()
    listening.connect(8)
    _run(reactor, ports)
    assert [len(f.protocols) for f in factories] == [8, 0]


def test_a_worker_whose_connections_closed_takes_the_next_ones(listening: Listening) -> None:
    """Closed connections are no longer counted: the worker that lost them is the one that accepts."""
    reactor, shares = _reactor(), Shares(["lab"], 2)
    ports, factories = _ports(reactor, listening, shares)
    listening.connect(8)
    _run(reactor, ports)
    for protocol in factories[0].protocols[:3]:
        transport: Any = protocol.transport
        transport.connectionLost(Failure(ConnectionError("closed by the peer")))  # type: ignore[no-untyped-call]
    assert [shares.count("lab", w) for w in (0, 1)] == [1, 4]
    listening.connect(3)
    _run(reactor, ports)
    assert [len(f.protocols) for f in factories] == [7, 4]
    assert [shares.count("lab", w) for w in (0, 1)] == [4, 4]


def test_a_stuck_worker_holds_a_connection_back_no_longer_than_the_grace(listening: Listening) -> None:
    """Worker 1 holds fewest but never reads: worker 0 waits GRACE_S, then accepts."""
    reactor, shares = _reactor(), Shares(["lab"], 2)
    ports, factories = _ports(reactor, listening, shares)
    listening.connect(1)
    _run(reactor, ports, rounds=1)
    assert [len(f.protocols) for f in factories] == [1, 0]  # a tie: worker 0 may take it
    listening.connect(1)
    _run(reactor, ports, rounds=int(GRACE_S / RECHECK_S / 2), stuck={1})
    assert [len(f.protocols) for f in factories] == [1, 0]  # within the grace, it is left for worker 1
    _run(reactor, ports, rounds=int(GRACE_S / RECHECK_S), stuck={1})
    assert [len(f.protocols) for f in factories] == [2, 0]


def test_a_worker_that_left_is_not_waited_for(listening: Listening) -> None:
    """A retired worker (it exited) or one that stopped listening is out of the comparison."""
    reactor, shares = _reactor(), Shares(["lab", "fhir"], 2)
    ports, factories = _ports(reactor, listening, shares)
    ports[1].stopListening()
    reactor.advance(0)  # Twisted closes the port on the next turn
    assert shares.count("lab", 1) == ABSENT
    listening.connect(3)
    _run(reactor, ports[:1], rounds=5)
    assert len(factories[0].protocols) == 3
    shares.join("fhir", 0)
    shares.join("fhir", 1)
    shares.add("fhir", 1, 5)
    assert not shares.may_accept("fhir", 1)
    shares.retire(0)
    assert shares.may_accept("fhir", 1)
    assert shares.count("lab", 0) == ABSENT
