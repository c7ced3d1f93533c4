"""The consultation side in-process: a migrated database, the registers, intake, and a `Consult`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consulting import ORGANIZATIONS, PRACTITIONERS, SENDER, Keys, consulting_partner, ec_keys, token
from sqlalchemy import Engine

from hub.consult import Consult, FhirChannel
from hub.engine.intake import InlineIntake
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.limiter import RefusalLimiter
from hub.governance.partners import PartnerSpec, import_specs
from hub.interfaces import Consultation, Reply
from hub.registers import OrganizationSpec, PractitionerSpec, import_organizations, import_practitioners

BASE = "http://127.0.0.1:8080/fhir"


@dataclass
class World:
    """The database, the intake, the consultation core and the systems' keys."""

    engine: Engine
    intake: InlineIntake
    consult: Consult
    keys: Keys

    def send(self, raw: str, channel: str) -> Reply | None:
        """One message through the pipeline and the store, on this channel."""
        inbound = consultation_inbound(raw, channel)
        out: list[Reply | None] = []
        self.intake.handle(inbound).addCallback(out.append)
        return out[0]

    def ask(self, path: str, tok: str | None, *query: tuple[str, str], method: str = "GET") -> tuple[int, Any]:
        """One request to the channel's core: (status, parsed body)."""
        request = Consultation(
            method=method,
            path=path,
            query=tuple(query),
            authorization=f"Bearer {tok}" if tok else "",
            peer="127.0.0.1",
            channel="fhir",
            received_at=datetime.now(UTC),
        )
        reply = self.consult.answer(request)
        return reply.status, json.loads(reply.body)

    def token(self, sub: str = "dr-bouchard", purpose: str = "TREAT", iss: str = "dme-lac", **claims: Any) -> str:
        """A token of the clinic's system (its key) for this practitioner."""
        return token(self.keys, iss, sub, purpose, **claims)


def consultation_inbound(raw: str, channel: str) -> Any:
    """An inbound frame on a channel."""
    from hub.interfaces import Inbound

    return Inbound(raw.encode("utf-8"), "127.0.0.1", channel, datetime.now(UTC))


def build_world(
    engine: Engine,
    keys: Keys,
    other: Keys,
    *,
    insurer: Keys | None = None,
    privacy: Keys | None = None,
    emergency: bool = True,
    excluded: frozenset[str] = frozenset(),
) -> World:
    """Registers (CHUM, the clinic, an insurer), the sender, three consulting systems, the practitioners."""
    orgs = [OrganizationSpec.model_validate({"id": "chum", "name": "CHUM", "type": "hospital"})]
    orgs += [OrganizationSpec.model_validate(o) for o in ORGANIZATIONS]
    import_organizations(engine, orgs, "test")
    import_practitioners(engine, [PractitionerSpec.model_validate(p) for p in PRACTITIONERS], "test", "test")
    partners = [
        SENDER,
        consulting_partner("dme-lac", keys),
        consulting_partner("dme-prive", other, category="private-ramq"),
        consulting_partner("assureur", insurer or ec_keys(), category="insurer", organization="assureur-x"),
        consulting_partner("portail", privacy or ec_keys(), organization="ramq", domains=["privacy"]),
    ]
    report = import_specs(engine, [PartnerSpec.model_validate(p) for p in partners], "test")
    assert not report.refused, report.refused
    directory = PartnerDirectory()
    directory.refresh(engine)
    channels = {n: ChannelPolicy(n, n) for n in ("lab", "pharmacy", "imaging")}
    pipeline = Pipeline(channels=channels, directory=directory)
    intake = InlineIntake(pipeline, SQLStore(engine, directory=directory), lambda: directory.refresh(engine))
    fhir = {"fhir": FhirChannel("fhir", BASE, emergency=emergency, excluded=excluded)}
    return World(engine, intake, Consult(engine, directory, fhir, RefusalLimiter(600, 600)), keys)
