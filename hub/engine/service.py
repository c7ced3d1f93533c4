"""Config -> running hub: a Twisted MultiService of the writer thread and one service per channel.

The writer starts first and stops last: MultiService stops its children in reverse order, so
every listener has stopped taking frames before the writer finishes the batch in hand.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import serverFromString

from hub.config import Config
from hub.engine.acks import Acknowledger
from hub.engine.balance import BalancedPort, Seat
from hub.engine.dicom_service import DicomService
from hub.engine.export import Exporter, ExportService, source_of
from hub.engine.health import Health
from hub.engine.intake import GroupCommitIntake
from hub.engine.listeners import Sides, console, consultation, factory_for, policy
from hub.engine.pipeline import Pipeline
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.limiter import RefusalLimiter
from hub.governance.partners import ImportReport, import_specs
from hub.registers import import_organizations, import_practitioners
from hub.store.db import Timeouts, ensure_schema, make_engine

log = structlog.get_logger("passerelle.service")


def build_pipeline(config: Config, directory: PartnerDirectory) -> Pipeline:
    """The pipeline for every configured channel."""
    return Pipeline(
        channels={c.name: policy(c) for c in config.channels if c.protocol in ("mllp", "soap")},
        directory=directory,
        limiter=RefusalLimiter(config.security.refused_per_minute, config.security.refused_burst),
        acks=Acknowledger(config.hub.application, config.hub.facility),
        charset_aliases=dict(config.charset_aliases),
    )


class WriterService(Service):
    """The group-commit writer thread: started before the listeners, stopped after them."""

    def __init__(self, intake: GroupCommitIntake) -> None:
        self.intake = intake

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        """Start the writer thread."""
        super().startService()  # type: ignore[no-untyped-call]
        self.intake.start()

    def stopService(self) -> Deferred[None] | None:  # noqa: N802 - Twisted's name
        """Let the writer finish the batch in hand."""
        super().stopService()  # type: ignore[no-untyped-call]
        self.intake.stop()
        return None


class ChannelService(Service):
    """One channel's listener: a Twisted endpoint, or the socket a `--workers` parent bound for all."""

    def __init__(
        self,
        channel: str,
        factory: Any,
        reactor: Any,
        *,
        endpoint: Any = None,
        sock: Any = None,
        seat: Seat | None = None,
    ) -> None:
        self.setName(channel)  # type: ignore[no-untyped-call]
        self.factory = factory
        self.reactor = reactor
        self.endpoint = endpoint
        self.sock = sock
        self.seat = seat
        self.port: Any = None
        self.failed = False

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        """Listen; a channel that cannot listen stops the hub (`serve` then exits 1)."""
        super().startService()  # type: ignore[no-untyped-call]
        if self.sock is not None and self.seat is not None:  # shared with the other workers: take turns
            port = BalancedPort.adopt(self.reactor, self.sock, self.factory, seat=self.seat, channel=str(self.name))
            self._listening(port)
            return
        if self.sock is not None:
            self._listening(self.reactor.adoptStreamPort(self.sock.fileno(), self.sock.family, self.factory))
            return
        self.endpoint.listen(self.factory).addCallbacks(self._listening, self._failed)

    def stopService(self) -> Deferred[None] | None:  # noqa: N802 - Twisted's name
        """Stop listening (open connections finish on their own)."""
        super().stopService()  # type: ignore[no-untyped-call]
        port, self.port = self.port, None
        return maybeDeferred(port.stopListening) if port is not None else None

    def _listening(self, port: Any) -> None:
        self.port = port
        host = port.getHost()
        log.info("listening", channel=self.name, address=f"{getattr(host, 'host', '')}:{getattr(host, 'port', '')}")

    def _failed(self, failure: Any) -> None:
        self.failed = True
        log.error("listen_failed", channel=self.name, error=str(failure.value))
        if self.reactor.running:
            self.reactor.stop()
        else:
            self.reactor.callWhenRunning(self.reactor.stop)


@dataclass
class Hub:
    """The running hub as a Twisted application: the writer first, then one service per channel."""

    service: MultiService
    intake: GroupCommitIntake
    writer_died: bool = False

    @property
    def failed(self) -> bool:
        """True when a channel could not listen or the writer thread ended unasked: `serve` exits 1."""
        return self.writer_died or any(isinstance(c, ChannelService) and c.failed for c in self.service)

    def stop(self) -> Deferred[None]:
        """Stop listening, then let the writer finish its batch (children stop in reverse order)."""
        return self.service.stopService()  # type: ignore[no-any-return,no-untyped-call]


def timeouts(config: Config) -> Timeouts:
    """The database timeouts a serving hub runs with."""
    db = config.database
    return Timeouts(
        busy_ms=db.busy_timeout_ms,
        connect_s=db.connect_timeout_s,
        statement_ms=db.statement_timeout_ms,
        lock_ms=db.lock_timeout_ms,
        keepalive_idle_s=db.keepalives_idle_s,
    )


def import_config_partners(engine: Engine, config: Config) -> None:
    """The declarative import of `organizations:`, `practitioners:`, then `partners:`; refusals are logged.

    Organizations come first: practitioners and partners name them. The others are applied.
    """
    imports: list[tuple[str, Sequence[Any], Callable[..., ImportReport]]] = [
        ("organization", config.organizations, import_organizations),
        ("practitioner", config.practitioners, import_practitioners),
        ("partner", config.partners, import_specs),
    ]
    for kind, specs, importer in imports:
        if not specs:
            continue
        report = importer(engine, list(specs), operator="config", reason="config.yaml")
        counts = {"added": len(report.added), "updated": len(report.updated), "unchanged": len(report.unchanged)}
        log.info(f"{kind}s_imported", **counts)
        for entry_id, why in report.refused:
            log.warning(f"{kind}_import_refused", **{kind: entry_id}, reason=why)


def start(
    config: Config,
    reactor: Any,
    sockets: dict[str, Any] | None = None,
    import_partners: bool = True,
    seat: Seat | None = None,
) -> Hub:
    """Create the schema if needed, import partners, start the writer and listen on every channel.

    Raises:
        hub.store.db.SchemaError: the database is outdated (names `passerelle db upgrade`).
    """
    hub = build(config, reactor, sockets, import_partners, seat)
    hub.service.startService()  # type: ignore[no-untyped-call]
    # What start loaded (rule sets, hl7apy's model, the directory) lives as long as the process:
    # out of the collector's reach, a full collection no longer walks it (docs/design.md).
    gc.freeze()
    return hub


def build(
    config: Config,
    reactor: Any,
    sockets: dict[str, Any] | None = None,
    import_partners: bool = True,
    seat: Seat | None = None,
) -> Hub:
    """The hub's services, not yet started: the schema is checked and the partners imported now.

    `sockets`: the listening sockets a `--workers` parent bound, and `seat` this worker's place
    among the workers that share them.
    """
    engine = make_engine(config.database.url, timeouts=timeouts(config))
    state = ensure_schema(engine)
    log.info("schema", state=state, backend=engine.dialect.name)
    if import_partners:
        import_config_partners(engine, config)
    directory = PartnerDirectory()
    directory.refresh(engine)
    pipeline = build_pipeline(config, directory)
    intake = GroupCommitIntake(
        pipeline,
        SQLStore(
            engine, directory=directory, acks=pipeline.acks, lock_timeout_s=config.database.busy_timeout_ms / 1000
        ),
        reactor.callFromThread,
        max_batch=config.intake.max_batch,
        gather_s=config.intake.gather_ms / 1000,
        max_queued=config.intake.max_queued,
        refresh=lambda: directory.refresh(engine),
        on_death=lambda: _writer_died(hub, reactor),
    )
    root = MultiService()  # type: ignore[no-untyped-call]
    WriterService(intake).setServiceParent(root)  # type: ignore[no-untyped-call]
    dicom = DicomService(engine, directory, {c.name: c.domain for c in config.channels}, pipeline.limiter)
    consult = consultation(config, engine, directory, pipeline, reactor)
    sides = Sides(
        intake, dicom, consult, Health(intake, engine, reactor), console(config, engine, pipeline, reactor, intake)
    )
    if config.audit_export is not None:
        ExportService(Exporter(engine, config.audit_export, source_of(config))).setServiceParent(root)  # type: ignore[no-untyped-call]
    for channel in config.channels:
        factory = factory_for(channel, sides, reactor)
        if sockets is not None:  # a worker of `serve --workers N`: adopt the parent's socket
            service = ChannelService(channel.name, factory, reactor, sock=sockets[channel.name], seat=seat)
        else:
            endpoint = serverFromString(reactor, channel.listen)  # type: ignore[no-untyped-call]
            service = ChannelService(channel.name, factory, reactor, endpoint=endpoint)
        service.setServiceParent(root)  # type: ignore[no-untyped-call]
    hub = Hub(root, intake)
    return hub


def _writer_died(hub: Hub, reactor: Any) -> None:
    """The writer thread ended: stop listening at once; `serve` exits 1 and a supervisor restarts it."""
    hub.writer_died = True
    if reactor.running:
        reactor.stop()
