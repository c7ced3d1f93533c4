"""Config -> each channel's protocol factory, and the engine's view of each channel.

MLLP and SOAP channels feed the intake; a fhir channel the consultation side (its thread pool
starts with the reactor); a metrics channel the process's health and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from certification.report import to_html
from certification.ruleset import load_ruleset
from certification.structure import field_names
from channels.console import site as console_site
from channels.fhir import site as fhir_site
from channels.limits import LimitedFactory
from channels.metrics import site as metrics_site
from channels.mllp import Limits, MLLPFactory
from channels.soap import SoapLimits
from channels.soap import site as soap_site
from channels.tls import server_options, wrap
from hub.config import ChannelConfig, Config, fhir_base, soap_location
from hub.console import Campaigns, Console, Hooks, Privacy
from hub.consult import Consult, ConsultationService, FhirChannel, audit
from hub.engine import certify
from hub.engine.dicom_service import DicomService
from hub.engine.intake import GroupCommitIntake
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.governance.directory import PartnerDirectory
from hub.interfaces import ConsoleHandler, HealthHandler, PeerGate
from mappings.exclusions import Exclusion


def policy(channel: ChannelConfig) -> ChannelPolicy:
    """The engine's view of a channel."""
    return ChannelPolicy(
        name=channel.name,
        domain=channel.domain,
        default_charset=channel.default_charset,
        processing_ids=frozenset(channel.processing_ids),
        max_segments=channel.max_segments,
        ruleset=load_ruleset(channel.ruleset) if channel.ruleset and channel.validates else None,
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
        frame_timeout=channel.frame_timeout,
    )


def consultation(
    config: Config, engine: Engine, directory: PartnerDirectory, pipeline: Pipeline, reactor: Any
) -> ConsultationService | None:
    """The consultation side, when a fhir channel is configured: its thread pool starts with the reactor."""
    fhir = [c for c in config.channels if c.protocol == "fhir"]
    if not fhir:
        return None
    excluded = frozenset(c.domain for c in config.channels if c.exclusions)
    views = {c.name: FhirChannel(c.name, fhir_base(c), c.emergency, excluded) for c in fhir}
    service = ConsultationService(Consult(engine, directory, views, pipeline.limiter), reactor)
    reactor.callWhenRunning(service.start)
    return service


@dataclass(frozen=True, slots=True)
class Sides:
    """What the channels hand their traffic to."""

    intake: GroupCommitIntake
    dicom: DicomService
    consult: ConsultationService | None
    health: HealthHandler
    console: ConsoleHandler | None = None


def factory_for(channel: ChannelConfig, sides: Sides, reactor: Any) -> Any:
    """The protocol factory for one channel, wrapped in TLS when it has a `tls:` block."""
    factory: Any
    intake, dicom = sides.intake, sides.dicom
    gate: PeerGate = intake
    if channel.protocol in ("fhir", "metrics", "console"):
        if channel.protocol == "fhir":
            assert sides.consult is not None
            gate = sides.consult
            site = fhir_site(channel.name, sides.consult, channel.idle_timeout)
        elif channel.protocol == "console":
            assert sides.console is not None
            gate = sides.console
            site = console_site(channel.name, sides.console, channel.idle_timeout)
        else:
            site = metrics_site(sides.health, channel.idle_timeout)
        factory = LimitedFactory(site, channel.name, gate, channel.max_connections, channel.max_connections_per_peer)
    elif channel.protocol == "soap":
        soap_limits = SoapLimits(channel.max_frame_bytes, dicom=channel.domain == "imaging")
        site = soap_site(
            channel.name, intake, dicom, soap_limits, channel.idle_timeout, location=soap_location(channel)
        )
        factory = LimitedFactory(site, channel.name, intake, channel.max_connections, channel.max_connections_per_peer)
    else:
        factory = MLLPFactory(channel.name, intake, limits(channel), clock=reactor)
    if channel.tls is not None:
        tls = channel.tls
        options = server_options(tls.certificate, tls.key, tls.ca, tls.client_certificate == "required")
        factory = wrap(factory, options, channel.name, intake)
    return factory


def console(
    config: Config, engine: Engine, pipeline: Pipeline, reactor: Any, intake: GroupCommitIntake
) -> Console | None:
    """The admin console, when a console channel is configured: its thread pool starts with the reactor."""
    if not any(c.protocol == "console" for c in config.channels):
        return None
    readers = Privacy(access_list=audit.access_list, surveillance=audit.surveillance_report)
    campaigns = Campaigns(
        plans=certify.plan_names,
        listing=certify.list_campaigns,
        open=certify.open_campaign,
        close=certify.close_campaign,
        progress=certify.progress,
        report_html=to_html,
    )
    hooks = Hooks(field_names=field_names, queue_depth=intake.depth, campaigns=campaigns)
    pages = Console(engine, pipeline.limiter, reactor, intake=intake, privacy=readers, hooks=hooks)
    reactor.callWhenRunning(pages.start)
    return pages
