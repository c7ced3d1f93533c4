"""One consultation, from the signed request to the committed journal entry and the response.

1. who: the consulting system (its link under the 2019 policy, its key, its certificate) and
   the practitioner (active in the register, practising at the system's organization);
2. why: the purpose (TREAT; ETREAT where the channel allows it, a security event); surveillance
   (a practitioner's own record);
3. what: the patient's chart, read in the same transaction as the register of refusals;
4. the journal: one chained entry (who, why, what was asked, how much was released, whether
   anything was withheld), committed before anything is answered;
5. the FHIR response (hub/consult/answer.py).

Every request is journaled, refused ones as security events (``consult.denied``); a refusal for
want of a valid signature also spends a token of the peer's refusal bucket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Engine, Table, delete, insert, select
from sqlalchemy.orm import Session

from hub import metrics
from hub.governance.directory import PartnerDirectory
from hub.governance.journal import ChainWriter
from hub.governance.limiter import RefusalLimiter
from hub.interfaces import Consultation, ConsultReply
from hub.store.models import ConsultToken, Practitioner, PractitionerEvent

from . import answer, tokens
from .routes import Route, route
from .tokens import Claims, Denied

log = structlog.get_logger("passerelle.consult")
consult_tokens = cast(Table, ConsultToken.__table__)

TREAT, EMERGENCY, PATIENT_REQUEST = "TREAT", "ETREAT", "PATRQT"


@dataclass(frozen=True, slots=True)
class FhirChannel:
    """The engine's view of one consultation channel."""

    name: str
    base: str  # the absolute base of fullUrl, e.g. https://dsq.example:8443/fhir
    emergency: bool = False  # ETREAT allowed (each use a security event)
    excluded: frozenset[str] = frozenset()  # domains whose intake channels exclude categories


@dataclass(slots=True)
class Entry:
    """What the journal entry of one request says (no clinical value)."""

    status: str = "consult.denied"
    decision: str = ""
    partner_id: str = ""
    patient_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    own_nam: str = ""  # the practitioner's own NAM, for the own-record check; never journaled


class Consult:
    """Answers consultations; synchronous (the channel runs it off the reactor thread)."""

    def __init__(
        self,
        engine: Engine,
        directory: PartnerDirectory,
        channels: dict[str, FhirChannel],
        limiter: RefusalLimiter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.channels = channels
        self.limiter = limiter
        self.clock = clock

    def answer(self, request: Consultation) -> ConsultReply:
        """The response to one request, after its journal entry is committed."""
        channel = self.channels[request.channel]
        entry = Entry(detail={"method": request.method, "path": request.path[:200]})
        try:
            wanted = route(request)
            if wanted.kind == "metadata":
                return answer.metadata(channel)
            claims = self._authenticate(request, wanted, entry)
        except Denied as denied:
            if denied.status == 401:
                self.limiter.refused(request.peer)
            return self._refused(request, entry, denied)
        return self._consult(request, channel, wanted, claims, entry)

    def _authenticate(self, request: Consultation, wanted: Route, entry: Entry) -> Claims:
        token = tokens.bearer(request.authorization)
        iss = tokens.issuer(token)
        self.directory.refresh(self.engine)
        view = self.directory.view(iss)
        if view is None or not view.keys:
            raise Denied(401, "unknown-system", "système inconnu / unknown consulting system")
        entry.partner_id = iss
        entry.detail["domain"] = wanted.domain
        claims = tokens.verify(token, view.keys, self.clock())
        entry.detail |= {"practitioner": claims.sub, "purpose": claims.purpose, "jti": claims.jti}
        ruling = self.directory.authorize_system(iss, request.tls_fingerprint, request.channel, wanted.domain)
        if not ruling.allowed:
            raise Denied(403, ruling.reason, f"lien refusé / link refused: {ruling.reason}")
        entry.detail["organization"] = view.organization
        return claims

    def _refused(self, request: Consultation, entry: Entry, denied: Denied) -> ConsultReply:
        entry.decision = denied.code
        with self.engine.begin() as conn:
            self._journal(conn, request, entry)
        log.info("consult_refused", channel=request.channel, partner=entry.partner_id, decision=denied.code)
        metrics.CONSULTATIONS.labels(entry.status, str(denied.status)).inc()
        metrics.JOURNAL.inc()
        return answer.error(denied.status, denied.code, denied.text)

    def _consult(
        self, request: Consultation, channel: FhirChannel, wanted: Route, claims: Claims, entry: Entry
    ) -> ConsultReply:
        with self.engine.begin() as conn:
            chain = ChainWriter(conn)  # the journal head first: one chain, and the jti check is serialized
            try:
                self._spend(conn, entry.partner_id, claims)
                self._practitioner(conn, entry, claims, channel)
                with Session(bind=conn) as s:
                    reply = answer.read(s, wanted, channel, entry, claims)
            except Denied as denied:
                entry.status, entry.decision = "consult.denied", denied.code
                reply = answer.error(denied.status, denied.code, denied.text)
            self._append(chain, request, entry)
            chain.close()
        log.info("consult", channel=request.channel, partner=entry.partner_id, status=entry.status, code=reply.status)
        metrics.CONSULTATIONS.labels(entry.status, str(reply.status)).inc()
        metrics.JOURNAL.inc()
        return reply

    def _spend(self, conn: Connection, partner_id: str, claims: Claims) -> None:
        """Keep the jti until its token expires; a second use is a replay. Expired ones are dropped."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        conn.execute(delete(consult_tokens).where(consult_tokens.c.expires_at < now - timedelta(minutes=5)))
        seen = conn.execute(
            select(consult_tokens.c.id).where(
                consult_tokens.c.partner_id == partner_id, consult_tokens.c.jti == claims.jti
            )
        ).first()
        if seen is not None:
            raise Denied(401, "replayed-jti", "jeton déjà utilisé / token already used (jti)")
        expires = datetime.fromtimestamp(claims.exp, UTC) + timedelta(seconds=tokens.LEEWAY)
        conn.execute(insert(consult_tokens), {"partner_id": partner_id, "jti": claims.jti, "expires_at": expires})

    def _practitioner(self, conn: Connection, entry: Entry, claims: Claims, channel: FhirChannel) -> None:
        """The practitioner is active and practises at the system's organization; the purpose is allowed."""
        person = conn.execute(select(Practitioner).where(Practitioner.id == claims.sub)).first()
        if person is None:
            raise Denied(403, "practitioner-unknown", "intervenant inconnu / unknown practitioner")
        state = conn.execute(
            select(PractitionerEvent.state)
            .where(PractitionerEvent.practitioner_id == claims.sub)
            .order_by(PractitionerEvent.id.desc())
            .limit(1)
        ).scalar()
        if state not in (None, "active"):
            raise Denied(403, f"practitioner-{state}", f"intervenant non actif / practitioner is {state}")
        if entry.detail.get("organization") not in json.loads(person.organizations or "[]"):
            raise Denied(
                403, "practitioner-elsewhere", "intervenant d'une autre organisation / not at this organization"
            )
        entry.own_nam = person.nam
        _purpose(entry, claims, channel)

    def _journal(self, conn: Connection, request: Consultation, entry: Entry) -> None:
        chain = ChainWriter(conn)
        self._append(chain, request, entry)
        chain.close()

    def _append(self, chain: ChainWriter, request: Consultation, entry: Entry) -> None:
        detail = entry.detail
        text = f"{request.method} {request.path[:120]}"
        if entry.decision:
            text += f": {entry.decision}"
        chain.append(
            {
                "at": request.received_at,
                "status": entry.status,
                "channel": request.channel,
                "peer": request.peer,
                "sha256": "",
                "size": 0,
                "partner_id": entry.partner_id,
                "decision": entry.decision[:32],
                "reason": text,
                "patient_id": entry.patient_id,
                "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
            }
        )


def _purpose(entry: Entry, claims: Claims, channel: FhirChannel) -> None:
    purpose = claims.purpose
    if entry.detail.get("domain") == "privacy":  # an access list, asked for by the patient
        if purpose == PATIENT_REQUEST:
            return
        raise Denied(403, "purpose-not-allowed", f"finalité refusée / purpose must be PATRQT: {purpose[:20]}")
    if purpose == TREAT:
        return
    if purpose == EMERGENCY and channel.emergency:
        if not claims.reason.strip():
            raise Denied(403, "emergency-no-reason", "urgence sans motif / ETREAT needs the claim reason")
        entry.detail["emergency_reason"] = claims.reason.strip()[:500]
        entry.status = "consult.emergency"
        return
    raise Denied(403, "purpose-not-allowed", f"finalité refusée / purpose not allowed: {purpose[:20]}")
