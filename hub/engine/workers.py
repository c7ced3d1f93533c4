"""`passerelle serve --workers N`: N reactor processes sharing each channel's port.

The parent binds every channel's TCP port once per worker with SO_REUSEPORT, creates the
schema and imports the partners once, then forks N workers; each worker adopts its own
sockets in its own reactor and runs its own writer thread. The kernel spreads new connections
evenly across the sockets by their address hash. One socket shared by all (the earlier design)
let whichever worker woke first accept a whole burst of connections: at 8 connections one
worker took them all and the second core sat idle. A worker that dies takes its sockets with
it (each process keeps only its own), so the kernel stops routing to it.

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


def bind(channel: ChannelConfig, reuse_port: bool = False) -> socket.socket:
    """A listening socket for a `tcp:PORT[:interface=HOST]` endpoint (one of several with `reuse_port`)."""
    port, host, family = _address(channel)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(511)
    sock.setblocking(False)
    return sock


def bind_all(channels: list[ChannelConfig], workers: int) -> list[dict[str, socket.socket]]:
    """Each worker's sockets, one per channel, all on the channel's port.

    SO_REUSEPORT would also let a second hub join the port silently: a plain bind first makes
    a port already in use fail here, as it does without --workers.
    """
    for channel in channels:
        port, host, family = _address(channel)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    return [{c.name: bind(c, reuse_port=workers > 1) for c in channels} for _ in range(workers)]


def run(config: Config, workers: int) -> int:
    """Bind, prepare the database, fork the workers, wait for them; the exit status."""
    from hub.engine.service import import_config_partners, timeouts
    from hub.store.db import ensure_schema, make_engine

    per_worker = bind_all(list(config.channels), workers)
    engine = make_engine(config.database.url, timeouts=timeouts(config))
    ensure_schema(engine)
    import_config_partners(engine, config)
    engine.dispose()
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: its own reactor, engine and writer thread, its own sockets only
            _close(s for i, socks in enumerate(per_worker) if i != index for s in socks.values())
            code = _worker(config, per_worker[index], index)
            os._exit(code)
        children.append(pid)
    _close(s for socks in per_worker for s in socks.values())  # the workers hold them now
    log.info("workers_started", workers=workers, pids=children)

    def _stop(signum: int, _frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return _wait(children, _stop)


def _wait(children: list[int], stop_all: Any) -> int:
    """Wait for the workers; when one ends on its own (its writer died, say), stop the others: exit 1."""
    status = 0
    left = set(children)
    while left:
        pid, raw = os.wait()
        if pid not in left:
            continue
        left.discard(pid)
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


def _worker(config: Config, sockets: dict[str, socket.socket], index: int) -> int:
    from twisted.internet import reactor as twisted_reactor

    from hub.engine.service import start
    from hub.logs import route_twisted

    reactor: Any = twisted_reactor
    structlog.contextvars.bind_contextvars(worker=index)
    route_twisted()
    try:
        hub = start(config, reactor, sockets=sockets, import_partners=False)
    except Exception as exc:
        print(f"worker {index}: cannot start: {exc}", file=sys.stderr)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    return 1 if hub.failed else 0
