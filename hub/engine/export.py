"""The audit export: the outbox's security events, in journal order, to the ATNA collector.

One process sends at a time, whoever holds the lease row (``audit_lease``): the workers of
`serve --workers N` and the hubs sharing one PostgreSQL all run an exporter, and the others wait.

Each batch goes over its own TLS connection (RFC 5425 framing). After the last frame the
exporter sends TLS close_notify and waits for the collector to close its side: a collector
only sees the end of the stream after it has read every frame before it. Only then are the
rows marked sent. A collector that is down, refuses the handshake, or drops the connection
before that leaves the rows pending, and the next attempt sends the same batch again. A crash
between the collector's close and the mark is the one case that sends an event twice; its
frame carries the journal sequence number, by which the collector can tell.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Engine, Table, func, select, update
from twisted.application.service import Service

from hub import __version__
from hub.config import Config
from hub.config.model import AuditExportConfig
from hub.governance.atna import Source, audit_of, syslog_frame
from hub.store.models import AuditLease, AuditOutbox, JournalEntry
from hub.store.queries import audit_waiting

log = structlog.get_logger("passerelle.audit")
outbox = cast(Table, AuditOutbox.__table__)
lease = cast(Table, AuditLease.__table__)
journal = cast(Table, JournalEntry.__table__)
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class Pending:
    """The outbox's unsent rows, oldest first, as frames ready to send."""

    ids: list[int]
    frames: list[bytes]


def source_of(config: Config) -> Source:
    """This hub as the audit source."""
    export = config.audit_export
    assert export is not None
    hostname = export.hostname or socket.gethostname()
    return Source(site=config.hub.facility, source_id=f"{config.hub.application}@{hostname}", hostname=hostname,
                  enterprise_number=export.enterprise_number, version=__version__)  # fmt: skip


def pending(engine: Engine, source: Source, payload_format: str, limit: int) -> Pending:
    """Up to `limit` unsent events with their journal entries, in journal order."""
    query = (
        select(outbox.c.id, outbox.c.kind, journal)
        .join(journal, journal.c.seq == outbox.c.seq)
        .where(outbox.c.sent_at.is_(None))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frames = [syslog_frame(audit_of(r.kind, dict(r._mapping)), source, payload_format) for r in rows]
    return Pending([r.id for r in rows], frames)


def backlog(engine: Engine) -> int:
    """How many events wait for the collector."""
    with engine.connect() as conn:
        return audit_waiting(conn)


def status(engine: Engine) -> dict[str, Any]:
    """`passerelle audit status`: the backlog, the oldest waiting event, the last delivery, the lease."""
    with engine.connect() as conn:
        oldest = conn.execute(
            select(outbox.c.seq, outbox.c.kind, journal.c.at)
            .join(journal, journal.c.seq == outbox.c.seq)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(1)
        ).first()
        last = conn.execute(select(func.max(outbox.c.sent_at))).scalar()
        held = conn.execute(select(lease.c.holder, lease.c.until).where(lease.c.id == 1)).first()
    return {
        "waiting": backlog(engine),
        "oldest_waiting": None if oldest is None else {"seq": oldest.seq, "kind": oldest.kind,
                                                        "at": oldest.at.isoformat()},
        "last_sent_at": last.isoformat() if last is not None else None,
        "sender": held.holder if held is not None and held.until is not None else None,
    }  # fmt: skip


class Exporter:
    """Sends the outbox to the collector; `drain` is one attempt, `run` the loop a thread runs."""

    def __init__(self, engine: Engine, export: AuditExportConfig, source: Source, *, clock: Callable[[], datetime]
                 | None = None) -> None:  # fmt: skip
        self.engine, self.export, self.source = engine, export, source
        self.clock = clock or (lambda: datetime.now(UTC))
        self.holder = f"{source.hostname}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        host, _, port = export.collector.rpartition(":")
        self.address = (host, int(port))
        self.context = _context(export)

    def take_lease(self) -> bool:
        """Hold (or renew) the lease; False while another live process holds it."""
        now = self.clock()
        ttl = timedelta(seconds=max(30.0, 3 * self.export.timeout_seconds))
        free = (lease.c.holder == self.holder) | lease.c.until.is_(None) | (lease.c.until < now)
        with self.engine.begin() as conn:
            taken = conn.execute(update(lease).where(lease.c.id == 1, free).values(holder=self.holder, until=now + ttl))
        return taken.rowcount == 1

    def release(self) -> None:
        """Give the lease up at shutdown, so another process takes over at once."""
        with self.engine.begin() as conn:
            conn.execute(update(lease).where(lease.c.id == 1, lease.c.holder == self.holder).values(until=None))

    def drain(self) -> int:
        """Send one batch if this process holds the lease; the number of events delivered.

        Raises:
            OSError: the collector could not be reached or did not confirm (ssl.SSLError included).
        """
        if not self.take_lease():
            return 0
        batch = pending(self.engine, self.source, self.export.format, self.export.batch)
        if not batch.ids:
            return 0
        self.send(batch.frames)
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id.in_(batch.ids), outbox.c.sent_at.is_(None))
                         .values(sent_at=self.clock()))  # fmt: skip
        return len(batch.ids)

    def send(self, frames: list[bytes]) -> None:
        """One connection: the frames, then close_notify, then the collector's close_notify."""
        with socket.create_connection(self.address, timeout=self.export.timeout_seconds) as raw:
            _Session(raw, self.context, self.address[0]).deliver(b"".join(frames))

    def run(self, stop: threading.Event) -> None:
        """Drain until stopped: at once while there is a backlog, then every `poll_seconds`."""
        delay = self.export.retry_seconds
        while not stop.is_set():
            try:
                sent = self.drain()
            except Exception as exc:
                log.warning("audit_export_failed", collector=self.export.collector, error=type(exc).__name__)
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            delay = self.export.retry_seconds
            if sent:
                log.info("audit_exported", events=sent)
                continue
            stop.wait(self.export.poll_seconds)


class _Session:
    """TLS over a blocking socket through memory BIOs, to tell the collector's close from its alert.

    An SSLSocket's unwrap() also completes on a fatal alert (a refused client certificate, say,
    which TLS 1.3 reports only after the handshake): reading after our close_notify raises the
    alert, and only the collector's own close_notify ends the read cleanly.
    """

    def __init__(self, raw: socket.socket, context: ssl.SSLContext, hostname: str) -> None:
        self.raw, self.incoming_bio, self.outgoing_bio = raw, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming_bio, self.outgoing_bio, server_hostname=hostname)

    def deliver(self, data: bytes) -> None:
        """Handshake, write, close_notify, then read until the collector's close_notify.

        Raises:
            OSError: reset, timeout, an end of stream without close_notify, or a TLS alert.
        """
        self._call(self.tls.do_handshake)
        view = memoryview(data)
        while view:
            view = view[self._call(functools.partial(self.tls.write, view)) :]
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()  # queues our close_notify; theirs is read below
        self._flush()
        while True:
            try:
                self.tls.read(65536)  # anything a collector says before its close is ignored
            except ssl.SSLZeroReturnError:
                return
            except ssl.SSLWantReadError:
                self._feed()

    def _call(self, step: Callable[[], Any]) -> Any:
        while True:
            try:
                result = step()
            except ssl.SSLWantReadError:
                self._flush()
                self._feed()
                continue
            self._flush()
            return result

    def _flush(self) -> None:
        pending = self.outgoing_bio.read()
        if pending:
            self.raw.sendall(pending)

    def _feed(self) -> None:
        data = self.raw.recv(65536)
        if not data:
            raise ConnectionError("the collector closed the connection without close_notify")
        self.incoming_bio.write(data)


def _context(export: AuditExportConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(export.tls.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if export.tls.certificate is not None and export.tls.key is not None:
        context.load_cert_chain(str(export.tls.certificate), str(export.tls.key))
    return context


class ExportService(Service):
    """The exporter's thread, for as long as the hub runs."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        """Start the exporter thread."""
        super().startService()  # type: ignore[no-untyped-call]
        self.thread = threading.Thread(target=self.exporter.run, args=(self.stop,), name="audit-export", daemon=True)
        self.thread.start()

    def stopService(self) -> Any:  # noqa: N802 - Twisted's name
        """Stop the thread and give the lease up."""
        super().stopService()  # type: ignore[no-untyped-call]
        self.stop.set()
        if self.thread is not None:
            self.thread.join(2.0)  # a send under way is bounded by timeout_seconds; the thread is a daemon
        try:
            self.exporter.release()
        except Exception:
            log.warning("audit_lease_not_released")
        return None
