"""The engine's per-message work before and after the commit, as plain steps.

``prepare`` runs steps 1-5 of ARCHITECTURE.md (decode+parse, authorize, dedupe-ready,
certify, map) and decides the outcome; the store (step 6) commits; ``reply`` (step 7)
turns the store's verdict into ACK bytes. Nothing here touches a socket or a database.

Steps signal failure by raising from the `hub.hl7.errors` tree; ``prepare`` catches them
once and turns them into an outcome with its issues.
"""

from __future__ import annotations

import codecs
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog

from certification.rules import Context
from certification.ruleset import RuleSet
from hub.governance.directory import PartnerDirectory, RefusalLimiter, Ruling
from hub.hl7 import (
    KNOWN_VERSIONS,
    Code,
    ContentError,
    Header,
    HL7Error,
    Issue,
    Location,
    Message,
    RejectError,
    ack_code,
    build_ack,
    decode,
    parse,
    read_header,
)
from hub.hl7.ack import ENHANCED
from hub.hl7.charsets import resolve as resolve_charset
from hub.hl7.message import part
from hub.interfaces import Defect, Inbound, Status
from mappings import Mapped, routes_for
from mappings.exclusions import Exclusion, apply_exclusions

log = structlog.get_logger("passerelle.pipeline")

JOURNAL_RAW_CAP = 65_536  # bytes of a refused attempt kept in the journal
MAX_ERR = 100  # ERR segments in one ACK at most


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """What the engine needs to know about the channel a frame came in on."""

    name: str
    domain: str
    default_charset: str = "utf-8"
    processing_ids: frozenset[str] = frozenset({"P"})
    max_segments: int = 10_000
    ruleset: RuleSet | None = None  # step 4: the certification rules this channel applies
    certification: bool = False  # a certification channel (MSH-11 T traffic inside a campaign)
    exclusions: tuple[Exclusion, ...] = ()  # categories not communicated: AA, journaled as filtered
    max_document_bytes: int = 8_388_608  # an OBX ED document, decoded


@dataclass(frozen=True, slots=True)
class Prepared:
    """One inbound frame after steps 1-5: what to store, what to answer."""

    inbound: Inbound
    sha256: str
    status: Status
    header: Header | None = None
    codec: str = ""
    issues: tuple[Issue, ...] = ()
    mapped: Mapped | None = None
    ack: bytes | None = None  # the ACK to send (and store, when accepted)
    partner_id: str = ""
    decision: str = ""  # the link policy's reason code
    check_transitions: bool = False  # lab.status-transition: the store compares with what it holds
    campaign_product: tuple[str, str] | None = None  # certification traffic: the open campaign's product

    @property
    def key(self) -> tuple[str, str, str]:
        """The dedupe key (MSH-3, MSH-4, MSH-10)."""
        h = self.header
        assert h is not None
        return (h.sending_application, h.sending_facility, h.control_id)


@dataclass(slots=True)
class Pipeline:
    """Steps 1-5 and 7 for every channel of one hub."""

    channels: Mapping[str, ChannelPolicy]
    directory: PartnerDirectory
    limiter: RefusalLimiter = field(default_factory=RefusalLimiter)
    application: str = "PASSERELLE"
    facility: str = "DSQ"
    charset_aliases: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: secrets.token_hex(10)

    def prepare(self, inbound: Inbound) -> Prepared:
        """Steps 1-5: decode, parse, check the header, map; never raises."""
        sha = hashlib.sha256(inbound.raw).hexdigest()
        if inbound.defect in (Defect.JUNK, Defect.OVERSIZE, Defect.MALFORMED):
            return Prepared(inbound, sha, Status.PROTOCOL, issues=(_defect_issue(inbound.defect),))
        policy = self.channels[inbound.channel]
        header: Header | None = None
        codec = ""
        ruling: Ruling | None = None  # kept for the journal when a later step fails
        try:
            if inbound.defect is not None:
                raise RejectError(_defect_issue(inbound.defect))
            default = policy.default_charset
            if inbound.charset_hint:  # an HL7 label (8859/1) or a codec name (ISO-8859-1)
                default = _hint(inbound.charset_hint, self.charset_aliases)
            decoded = decode(inbound.raw, default, self.charset_aliases)
            codec = decoded.codec
            msg = parse(decoded.text, max_segments=policy.max_segments)
            header = read_header(msg)
            ruling = self._authorize(inbound, header, policy)
            is_ack = header.message_code == "ACK" or msg.first("MSA") is not None
            if not ruling.allowed:
                refused = Prepared(
                    inbound, sha, Status.REFUSED, header, codec, (LINK_REFUSED,),
                    partner_id=ruling.partner_id, decision=ruling.reason,
                )  # fmt: skip
                return refused if is_ack else self._answer(refused)  # never ACK an ACK, even to refuse it
            if is_ack:
                return Prepared(
                    inbound, sha, Status.IGNORED, header, codec, partner_id=ruling.partner_id, decision=ruling.reason
                )
            check_header(header, policy)
            rule_warnings = self._certify(msg, header, policy)
            mapped = self._map(msg, header, policy)
            _check_documents(mapped, policy)
            mapped = apply_exclusions(mapped, policy.exclusions)
            status = Status.FILTERED if mapped.filtered_by and not mapped.records() else Status.ACCEPTED
            warnings = (*decoded.warnings, *msg.warnings, *rule_warnings, *mapped.warnings)
            prepared = Prepared(
                inbound, sha, status, header, codec, warnings, mapped,
                partner_id=ruling.partner_id, decision=ruling.reason,
                check_transitions=bool(
                    policy.ruleset
                    and any(policy.ruleset.applies(r) for r in ("lab.status-transition", "imaging.status-transition"))
                ),
            )  # fmt: skip
            return self._answer(prepared)
        except HL7Error as err:
            status = Status.REJECTED if err.ack_code == "AR" else Status.ERROR
            partner, decision = (ruling.partner_id, ruling.reason) if ruling else ("", "")
            failed = Prepared(inbound, sha, status, header, codec, err.issues, partner_id=partner, decision=decision)
            return self._answer(failed)
        except Exception as exc:  # a bug on odd input must cost one AR, never the hub
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""
            log.error("prepare_failed", error=type(exc).__name__, where=where, channel=inbound.channel)
            issue = Issue(Code.INTERNAL_ERROR, Location(), "erreur interne", "internal error")
            return self._answer(Prepared(inbound, sha, Status.REJECTED, header, codec, (issue,)))

    def _authorize(self, inbound: Inbound, header: Header, policy: ChannelPolicy) -> Ruling:
        """Step 2: the link policy; a refusal is a security event and spends a rate-limit token."""
        d = header.d
        application = part(header.sending_application, d, 1)
        facility = part(header.sending_facility, d, 1)
        ruling = self.directory.authorize(
            application,
            facility,
            inbound.tls_fingerprint,
            policy.name,
            policy.domain,
            certification=policy.certification,
        )
        if not ruling.allowed:
            blocked = self.limiter.refused(inbound.peer)
            log.warning(
                "link_refused",
                channel=inbound.channel,
                peer=inbound.peer,
                control_id=header.control_id,
                partner=ruling.partner_id,
                reason=ruling.reason,
                peer_blocked=blocked,
            )
        return ruling

    def _certify(self, msg: Message, header: Header, policy: ChannelPolicy) -> list[Issue]:
        """Step 4: the channel's rule set; errors raise AE (one ERR each), warnings are returned."""
        if policy.ruleset is None:
            return []
        ctx = Context(now=self.clock(), certification=policy.certification)
        found = policy.ruleset.validate_message(msg, header, ctx)
        errors = [i for i in found if i.severity == "E"]
        if errors:
            raise ContentError(*errors[:MAX_ERR])
        return found[:MAX_ERR]

    def _map(self, msg: Message, header: Header, policy: ChannelPolicy) -> Mapped:
        route = routes_for(policy.domain).get((header.message_code, header.trigger_event))
        if route is None:
            known_codes = {code for code, _event in routes_for(policy.domain)}
            code = Code.UNSUPPORTED_EVENT if header.message_code in known_codes else Code.UNSUPPORTED_MESSAGE_TYPE
            raise RejectError.at(
                code,
                Location("MSH", 1, 9),
                f"type de message non pris en charge par le canal {policy.name}",
                f"message type not supported on channel {policy.name}",
            )
        if header.version not in route.versions:
            raise RejectError.at(
                Code.UNSUPPORTED_VERSION,
                Location("MSH", 1, 12),
                "version non prise en charge pour ce type de message",
                "version not supported for this message type",
            )
        return route.mapper(msg, header)

    def _answer(self, p: Prepared) -> Prepared:
        outcome = {Status.ACCEPTED: "accepted", Status.FILTERED: "accepted", Status.ERROR: "error"}.get(
            p.status, "rejected"
        )  # REFUSED: AR
        policy = self.channels.get(p.inbound.channel)
        if policy is not None and policy.certification and p.status is not Status.REFUSED and p.partner_id:
            p = replace(p, campaign_product=self.directory.product_of(p.partner_id))
        return replace(p, ack=self.ack(p, outcome, p.issues))

    def ack(self, p: Prepared, outcome: str, issues: tuple[Issue, ...]) -> bytes:
        """ACK bytes for `p` with this outcome, encoded like the inbound message."""
        header = p.header
        if header and not _echo_safe(header):
            header = replace(header, control_id="")  # MSA-2 echoes MSH-10 only when safe
        # MLLP is request/response: a sender whose MSH-15/16 ask for no ACK at all still gets
        # the accept ACK, the only proof that its message is safe (README, "Design").
        code = ack_code(outcome, header) or ENHANCED[outcome]
        codec = p.codec or "ascii"
        text = build_ack(
            code,
            header,
            issues,
            application=self.application,
            facility=self.facility,
            control_id=self.new_id(),
            now=self.clock(),
            ascii_only=codec == "ascii",
        )
        return text.encode(codec, errors="replace")

    def conflict(self, p: Prepared) -> Prepared:
        """Step 3's other answer: the control ID was used by other bytes (AE 205)."""
        issue = Issue(
            Code.DUPLICATE_KEY,
            Location("MSH", 1, 10),
            "MSH-10 déjà reçu avec un autre contenu",
            "MSH-10 already received with other content",
        )
        return replace(p, status=Status.CONFLICT, issues=(issue,), ack=self.ack(p, "error", (issue,)))

    def refused_by_store(self, p: Prepared, issues: tuple[Issue, ...], outcome: str = "error") -> Prepared:
        """A check the store made against the repository failed: AE (or AR) with its issues."""
        status = Status.ERROR if outcome == "error" else Status.REJECTED
        return replace(p, status=status, issues=issues, ack=self.ack(p, outcome, issues))

    def outage(self, p: Prepared) -> Prepared:
        """The commit failed: AR 207, never AA; the sender resends later."""
        issue = Issue(
            Code.INTERNAL_ERROR,
            Location("MSH", 1),
            "dépôt indisponible, renvoyer plus tard",
            "repository unavailable, resend later",
        )
        return replace(p, status=Status.REJECTED, issues=(issue,), ack=self.ack(p, "rejected", (issue,)))


# One text for every refusal: the reason code is journaled, never told to the sender.
LINK_REFUSED = Issue(
    Code.INTERNAL_ERROR, Location("MSH", 1, 3), "lien non autorisé", "link not authorized", "E", "link-policy"
)


def check_header(h: Header, policy: ChannelPolicy) -> None:
    """MSH-9, MSH-10, MSH-11 and MSH-12 checks (bad-inputs rows 14-19).

    Raises:
        RejectError: AR 101 (MSH-9 empty), 202 (processing ID), 203 (version).
        ContentError: AE 101 (MSH-10 empty), AE 104 (MSH-10 too long or with delimiters).
    """
    if not h.message_code:
        raise RejectError.at(
            Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 9), "MSH-9 vide", "MSH-9 message type is empty"
        )
    if not h.control_id:
        raise ContentError.at(
            Code.REQUIRED_FIELD_MISSING, Location("MSH", 1, 10), "MSH-10 vide", "MSH-10 control ID is empty"
        )
    if not control_id_safe(h):
        raise ContentError.at(
            Code.VALUE_TOO_LONG,
            Location("MSH", 1, 10),
            "MSH-10 trop long ou avec délimiteurs",
            "MSH-10 too long or holds delimiters",
        )
    if h.version not in KNOWN_VERSIONS:
        raise RejectError.at(
            Code.UNSUPPORTED_VERSION, Location("MSH", 1, 12), "version HL7 inconnue", "unknown HL7 version"
        )
    if h.processing_id not in policy.processing_ids:
        raise RejectError.at(
            Code.UNSUPPORTED_PROCESSING_ID,
            Location("MSH", 1, 11),
            f"MSH-11 refusé sur le canal {policy.name}",
            f"MSH-11 processing ID not accepted on channel {policy.name}",
        )


def control_id_safe(h: Header) -> bool:
    """MSH-10 within its length (20 before v2.5, 199 from v2.5) and free of delimiters."""
    limit = 20 if h.version in ("2.1", "2.2", "2.3", "2.3.1", "2.4") else 199
    d = h.d
    delimiters = {d.component, d.repetition, d.subcomponent, d.escape}
    return len(h.control_id) <= limit and not (delimiters & set(h.control_id))


def _echo_safe(h: Header) -> bool:
    d = h.d
    return len(h.control_id) <= 199 and not ({d.component, d.repetition, d.subcomponent} & set(h.control_id))


def _defect_issue(defect: Defect) -> Issue:
    texts = {
        Defect.EMPTY: ("trame MLLP vide", "empty MLLP frame"),
        Defect.TRUNCATED: ("trame MLLP tronquée (VT avant FS)", "truncated MLLP frame (VT before FS)"),
        Defect.JUNK: ("octets hors trame MLLP", "bytes outside an MLLP frame"),
        Defect.OVERSIZE: ("trame trop grande", "frame or body over the size cap"),
        Defect.MALFORMED: ("requête SOAP refusée", "SOAP request refused (Fault sent)"),
    }
    fr, en = texts[defect]
    code = Code.SEGMENT_SEQUENCE if defect is Defect.EMPTY else Code.OTHER
    return Issue(code, Location(), fr, en)


def _hint(label: str, aliases: Mapping[str, str]) -> str:
    """The codec a transport's charset hint names, as an MSH-18 label or a codec name; else AR 103."""
    try:
        return resolve_charset(label, aliases)
    except RejectError:
        try:
            return codecs.lookup(label).name
        except LookupError:
            raise RejectError.at(
                Code.TABLE_VALUE_NOT_FOUND, Location("MSH", 1, 18), "jeu de caractères inconnu", "unknown charset"
            ) from None


def _check_documents(mapped: Mapped, policy: ChannelPolicy) -> None:
    """An ED document over the channel's cap: AE 104 at its OBX-5 (the sender keeps it, nothing is cut)."""
    for report in mapped.imaging_reports:
        for doc in report.documents:
            if doc.size > policy.max_document_bytes:
                raise ContentError.at(
                    Code.VALUE_TOO_LONG,
                    Location("OBX", doc.obx_sequence, 5),
                    f"document de {doc.size} octets, maximum {policy.max_document_bytes}",
                    f"document of {doc.size} bytes, at most {policy.max_document_bytes}",
                )


def journal_raw(p: Prepared) -> bytes | None:
    """What of a refused attempt's bytes the journal keeps (accepted ones live in messages)."""
    return p.inbound.raw[:JOURNAL_RAW_CAP]
