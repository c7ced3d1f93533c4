"""Config -> running hub: the engine, the writer thread and one listener per channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.threads import deferToThread

from certification.ruleset import load_ruleset
from channels.mllp import Limits, MLLPFactory
from channels.soap import SoapLimits
from channels.soap import site as soap_site
from channels.tls import server_options, wrap
from hub.config import ChannelConfig, Config
from hub.engine.dicom import import_dicom, journal_refused
from hub.engine.intake import GroupCommitIntake
from hub.engine.pipeline import ChannelPolicy, Pipeline
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory, RefusalLimiter
from hub.governance.partners import import_specs
from hub.interfaces import DicomReply
from hub.store.db import ensure_schema, make_engine
from mappings.exclusions import Exclusion

log = structlog.get_logger("passerelle.service")


def policy(channel: ChannelConfig) -> ChannelPolicy:
    """The engine's view of a channel."""
    return ChannelPolicy(
        name=channel.name,
        domain=channel.domain,
        default_charset=channel.default_charset,
        processing_ids=frozenset(channel.processing_ids),
        max_segments=channel.max_segments,
        ruleset=load_ruleset(channel.ruleset) if channel.ruleset else None,
        certification=channel.certification,
        exclusions=tuple(
            Exclusion(e.id, frozenset(_code_key(c) for c in e.codes), frozenset(e.sections)) for e in channel.exclusions
        ),
        max_document_bytes=channel.max_document_bytes,
    )


def _code_key(code: str) -> str:
    """``SYSTEM:CODE`` with the system upper-cased, or a bare code as written."""
    system, sep, value = code.partition(":")
    return f"{system.upper()}:{value}" if sep else code


def limits(channel: ChannelConfig) -> Limits:
    """The transport's view of a channel."""
    return Limits(
        max_frame_bytes=channel.max_frame_bytes,
        idle_timeout=channel.idle_timeout,
        max_connections=channel.max_connections,
        max_connections_per_peer=channel.max_connections_per_peer,
        fs_grace=channel.fs_grace,
    )


def build_pipeline(config: Config, directory: PartnerDirectory) -> Pipeline:
    """The pipeline for every configured channel."""
    return Pipeline(
        channels={c.name: policy(c) for c in config.channels},
        directory=directory,
        limiter=RefusalLimiter(config.security.refused_per_minute, config.security.refused_burst),
        application=config.hub.application,
        facility=config.hub.facility,
        charset_aliases=dict(config.charset_aliases),
    )


@dataclass
class DicomService:
    """SubmitDICOM: the link is decided by the TLS certificate, then the import runs in a thread."""

    engine: Engine
    directory: PartnerDirectory
    domains: dict[str, str]  # channel -> domain

    def submit(self, data: bytes, peer: str, channel: str, tls_fingerprint: str) -> Deferred[DicomReply]:
        """Authorize, import and journal one object; never errbacks."""
        return deferToThread(self._submit, data, peer, channel, tls_fingerprint).addErrback(self._failed)

    def _submit(self, data: bytes, peer: str, channel: str, fingerprint: str) -> DicomReply:
        self.directory.refresh(self.engine)
        ruling = self.directory.authorize_certificate(fingerprint, channel, self.domains.get(channel, ""))
        if not ruling.allowed:
            log.warning("link_refused", channel=channel, peer=peer, partner=ruling.partner_id, reason=ruling.reason)
            journal_refused(
                self.engine, data, channel=channel, peer=peer, decision=ruling.reason, partner_id=ruling.partner_id
            )
            return DicomReply("refused", "lien non autorisé / link not authorized")
        result = import_dicom(
            self.engine, data, channel=channel, source=channel, peer=peer, partner_id=ruling.partner_id
        )
        return DicomReply(result.status.value, result.text, result.study_uid, result.sop_instance_uid)

    def _failed(self, failure: Any) -> DicomReply:
        log.error("dicom_failed", error=failure.type.__name__ if failure.type else "")
        return DicomReply("error", "dépôt indisponible, renvoyer plus tard / repository unavailable, resend later")


@dataclass
class Hub:
    """What `serve` started, so it can be stopped in order."""

    intake: GroupCommitIntake
    ports: list[Any]  # IListeningPort

    def stop(self) -> None:
        """Stop listening, then let the writer finish its batch."""
        for port in self.ports:
            port.stopListening()
        self.intake.stop()


def import_config_partners(engine: Engine, config: Config) -> None:
    """The declarative import of `partners:`; refusals are logged, the others applied."""
    if not config.partners:
        return
    report = import_specs(engine, list(config.partners), operator="config", reason="config.yaml")
    log.info("partners_imported", added=len(report.added), updated=len(report.updated), unchanged=len(report.unchanged))
    for partner_id, why in report.refused:
        log.warning("partner_import_refused", partner=partner_id, reason=why)


def start(config: Config, reactor: Any, sockets: dict[str, Any] | None = None, import_partners: bool = True) -> Hub:
    """Create the schema if needed, import partners, start the writer and listen on every channel.

    Raises:
        hub.db.SchemaError: the database is outdated (names `passerelle db upgrade`).
    """
    engine = make_engine(config.database.url, config.database.busy_timeout_ms)
    state = ensure_schema(engine)
    log.info("schema", state=state, backend=engine.dialect.name)
    if import_partners:
        import_config_partners(engine, config)
    directory = PartnerDirectory()
    directory.refresh(engine)
    intake = GroupCommitIntake(
        build_pipeline(config, directory),
        SQLStore(engine, directory=directory),
        reactor.callFromThread,
        config.intake.max_batch,
        refresh=lambda: directory.refresh(engine),
    )
    intake.start()
    hub = Hub(intake, [])
    dicom = DicomService(engine, directory, {c.name: c.domain for c in config.channels})
    for channel in config.channels:
        factory: Any
        if channel.protocol == "soap":
            soap_limits = SoapLimits(channel.max_frame_bytes, dicom=channel.domain == "imaging")
            factory = soap_site(channel.name, intake, dicom, soap_limits, channel.idle_timeout)
        else:
            factory = MLLPFactory(channel.name, intake, limits(channel), clock=reactor)
        if channel.tls is not None:
            tls = channel.tls
            options = server_options(tls.certificate, tls.key, tls.ca, tls.client_certificate == "required")
            factory = wrap(factory, options)
        if sockets is not None:  # a worker of `serve --workers N`: adopt the parent's socket
            sock = sockets[channel.name]
            port = reactor.adoptStreamPort(sock.fileno(), sock.family, factory)
            _listening(hub, port, channel.name)
            continue
        endpoint = serverFromString(reactor, channel.listen)  # type: ignore[no-untyped-call]
        endpoint.listen(factory).addCallbacks(
            lambda port, name=channel.name: _listening(hub, port, name),
            lambda failure, name=channel.name: _listen_failed(reactor, failure, name),
        )
    return hub


def _listening(hub: Hub, port: Any, name: str) -> None:
    hub.ports.append(port)
    host = port.getHost()
    log.info("listening", channel=name, address=f"{getattr(host, 'host', '')}:{getattr(host, 'port', '')}")


def _listen_failed(reactor: Any, failure: Any, name: str) -> None:
    log.error("listen_failed", channel=name, error=str(failure.value))
    reactor.stop()
