"""`passerelle serve --workers N`: N reactor processes sharing the listening sockets.

The parent binds every channel's TCP socket, creates the schema and imports the partners once,
then forks N workers; each worker adopts the sockets in its own reactor (the kernel spreads the
connections) and runs its own writer thread. Dedupe stays correct across workers through the
database: the unique key on (MSH-3, MSH-4, MSH-10), SQLite's write lock (transactions begin
IMMEDIATE) or, on PostgreSQL, the one-by-one retry after an IntegrityError. The journal stays
one chain because every writer takes the journal head row first.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
from typing import Any

import structlog

from .config import ChannelConfig, Config

log = structlog.get_logger("passerelle.workers")
_TCP = re.compile(r"^tcp:(?:port=)?(\d+)(?::interface=([^:]+))?$")


class WorkersError(Exception):
    """A configuration --workers can't serve."""


def bind(channel: ChannelConfig) -> socket.socket:
    """The listening socket for a `tcp:PORT[:interface=HOST]` endpoint."""
    match = _TCP.match(channel.listen)
    if match is None:
        raise WorkersError(f"channels.{channel.name}.listen: --workers needs a tcp:PORT[:interface=HOST] endpoint")
    port, host = int(match.group(1)), match.group(2) or "0.0.0.0"  # noqa: S104 - the admin's choice when no interface
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(511)
    sock.setblocking(False)
    return sock


def run(config: Config, workers: int) -> int:
    """Bind, prepare the database, fork the workers, wait for them; the exit status."""
    from .db import ensure_schema, make_engine
    from .service import import_config_partners

    sockets = {c.name: bind(c) for c in config.channels}
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    ensure_schema(engine)
    import_config_partners(engine, config)
    engine.dispose()
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: its own reactor, engine and writer thread
            code = _worker(config, sockets, index)
            os._exit(code)
        children.append(pid)
    log.info("workers_started", workers=workers, pids=children)

    def _stop(signum: int, _frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    status = 0
    for pid in children:
        _pid, raw = os.waitpid(pid, 0)
        status = status or os.waitstatus_to_exitcode(raw)
    return status


def _worker(config: Config, sockets: dict[str, socket.socket], index: int) -> int:
    from twisted.internet import reactor as twisted_reactor

    from .service import start

    reactor: Any = twisted_reactor
    structlog.contextvars.bind_contextvars(worker=index)
    try:
        hub = start(config, reactor, sockets=sockets, import_partners=False)
    except Exception as exc:
        print(f"worker {index}: cannot start: {exc}", file=sys.stderr)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", hub.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    return 0
