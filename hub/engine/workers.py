"""`passerelle serve --workers N`: N reactor processes taking turns on each channel's socket.

The parent binds every channel's TCP port once, maps the table of open-connection counts
(hub/engine/balance.py), creates the schema and imports the partners once, then forks N
workers. Each worker adopts the same sockets in its own reactor and runs its own writer thread,
and accepts a new connection only while it holds no more connections on that channel than any
other worker: the least loaded takes it, and two workers' counts stay within one of each other.
A worker that exits is struck from the table, and the hub stops the others (a supervisor
restarts it).

Dedupe stays correct across workers through the database: the unique key on (MSH-3, MSH-4,
MSH-10), SQLite's write lock (transactions begin IMMEDIATE) or, on PostgreSQL, the one-by-one
retry after an IntegrityError. The journal stays one chain because every writer takes the
journal head row first.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import Iterable
from typing import Any

import structlog

from hub import metrics
from hub.config import ChannelConfig, Config
from hub.engine.balance import Seat, Shares

log = structlog.get_logger("passerelle.workers")
_TCP = re.compile(r"^tcp:(?:port=)?(\d+)(?::interface=([^:]+))?$")


class WorkersError(Exception):
    """A configuration --workers can't serve."""


def _address(channel: ChannelConfig) -> tuple[int, str, socket.AddressFamily]:
    match = _TCP.match(channel.listen)
    if match is None:
        raise WorkersError(f"channels.{channel.name}.listen: --workers needs a tcp:PORT[:interface=HOST] endpoint")
    port, host = int(match.group(1)), match.group(2) or "0.0.0.0"  # noqa: S104 - the admin's choice when no interface
    return port, host, socket.AF_INET6 if ":" in host else socket.AF_INET


def bind(channel: ChannelConfig) -> socket.socket:
    """The listening socket for a `tcp:PORT[:interface=HOST]` endpoint; a port in use raises OSError."""
    port, host, family = _address(channel)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(511)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bind_all(channels: list[ChannelConfig]) -> dict[str, socket.socket]:
    """Every channel's socket, bound once: the workers share them; a port in use fails before any is kept."""
    sockets: dict[str, socket.socket] = {}
    try:
        for channel in channels:
            sockets[channel.name] = bind(channel)
    except OSError:
        _close(sockets.values())
        raise
    return sockets


def run(config: Config, workers: int) -> int:
    """Bind, prepare the database, fork the workers, wait for them; the exit status."""
    from hub.engine.service import import_config_partners, timeouts
    from hub.store.db import ensure_schema, make_engine

    sockets = bind_all(list(config.channels))
    shares = Shares([c.name for c in config.channels], workers)
    engine = make_engine(config.database.url, timeouts=timeouts(config))
    ensure_schema(engine)
    import_config_partners(engine, config)
    engine.dispose()
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: its own reactor, engine and writer thread, on the shared sockets
            code = _worker(config, sockets, Seat(shares, index))
            os._exit(code)
        children.append(pid)
    _close(sockets.values())  # the workers hold them now
    log.info("workers_started", workers=workers, pids=children)

    def _stop(signum: int, _frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return _wait(children, _stop, shares)


def _wait(children: list[int], stop_all: Any, shares: Shares) -> int:
    """Wait for the workers; when one ends on its own (its writer died, say), stop the others: exit 1."""
    status = 0
    left = set(children)
    while left:
        pid, raw = os.wait()
        if pid not in left:
            continue
        left.discard(pid)
        shares.retire(children.index(pid))  # the others no longer leave connections to it
        metrics.worker_exited(pid)
        code = os.waitstatus_to_exitcode(raw)
        if code and not status:  # a worker failed: the whole hub stops, for its supervisor to restart
            status = code if code > 0 else 1
            log.error("worker_exited", pid=pid, status=code)
            stop_all(signal.SIGTERM, None)
    return status


def _close(sockets: Iterable[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _worker(config: Config, sockets: dict[str, socket.socket], seat: Seat) -> int:
    from twisted.internet import reactor as twisted_reactor

    from hub.engine.service import start
    from hub.logs import route_twisted

    reactor: Any = twisted_reactor
    index = seat.worker
    structlog.contextvars.bind_contextvars(worker=index)
    route_twisted()
    try:
        hub = start(config, reactor, sockets=sockets, import_partners=False, seat=seat)
    except Exception as exc:
        print(f"worker {index}: cannot start: {exc}", file=sys.stderr)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    return 1 if hub.failed else 0
