"""The engine's per-message work before the commit, as plain steps.

``prepare`` runs steps 1-5 of docs/architecture.md (decode and parse, authorize, dedupe-ready,
certify, map), decides the outcome and builds its ACK; the writer (step 6) commits; the
verdict's `reply` (step 7) is what the channel sends. Nothing here touches a socket or a
database.

Steps signal failure by raising from the `hub.hl7.errors` tree; ``prepare`` catches them
once and turns them into an outcome with its issues.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import structlog

from certification.rules import Context
from hub.governance.directory import PartnerDirectory, Ruling
from hub.governance.limiter import RefusalLimiter
from hub.hl7 import (
    Code,
    ContentError,
    Header,
    HL7Error,
    Issue,
    Location,
    Message,
    RejectError,
    decode,
    parse,
    read_header,
)
from hub.hl7.message import part
from hub.hl7.peek import peek_header
from hub.interfaces import Defect, Inbound
from hub.logs import short_id
from mappings import Mapped, routes_for
from mappings.exclusions import apply_exclusions

from .acks import MAX_ERR, Acknowledger
from .checks import LINK_REFUSED, charset_hint, check_documents, check_header, defect_issue
from .outcome import Prepared, Status
from .policy import ChannelPolicy
from .scope import DEFAULT_NAM_TOLERANCE, scope

log = structlog.get_logger("passerelle.pipeline")

JOURNAL_RAW_CAP = 65_536  # bytes of a refused attempt kept in the journal
INTERNAL = Issue(Code.INTERNAL_ERROR, Location(), "erreur interne", "internal error")


@dataclass(slots=True)
class Pipeline:
    """Steps 1-5, and the ACK they decide, for every channel of one hub."""

    channels: Mapping[str, ChannelPolicy]
    directory: PartnerDirectory
    limiter: RefusalLimiter = field(default_factory=RefusalLimiter)
    acks: Acknowledger = field(default_factory=Acknowledger)
    charset_aliases: Mapping[str, str] = field(default_factory=dict)

    def prepare(self, inbound: Inbound) -> Prepared:
        """Steps 1-5: decode, parse, authorize, check, map; never raises.

        A negative outcome for a sender that was never identified (an empty or junk frame, bytes
        that do not parse, an unknown MSH-3/MSH-4) spends a token of its peer's refusal bucket,
        as a refused link does.
        """
        prepared = self._prepare(inbound)
        if not prepared.partner_id and prepared.status in _UNIDENTIFIED:
            self.limiter.refused(inbound.peer)
        return prepared

    def prepare_batch(self, batch: Sequence[Inbound]) -> tuple[list[Prepared | None], list[Prepared]]:
        """Prepare a batch in arrival order; frames of a peer blocked meanwhile are dropped.

        Returns one item per frame (None for a dropped one) and one DROPPED entry per blocked
        peer and channel, counting the frames it had queued: the journal grows by one entry,
        not one per frame.
        """
        out: list[Prepared | None] = []
        dropped: dict[tuple[str, str], list[Inbound]] = {}
        for inbound in batch:
            if self.limiter.blocked(inbound.peer):
                dropped.setdefault((inbound.peer, inbound.channel), []).append(inbound)
                out.append(None)
            else:
                out.append(self.prepare(inbound))
        return out, [_dropped(frames) for frames in dropped.values()]

    def _prepare(self, inbound: Inbound) -> Prepared:
        sha = hashlib.sha256(inbound.raw).hexdigest()
        if inbound.defect in (Defect.JUNK, Defect.OVERSIZE, Defect.MALFORMED, Defect.SLOW, Defect.TLS):
            return Prepared(inbound, sha, Status.PROTOCOL, issues=(defect_issue(inbound.defect, inbound.note),))
        start = Prepared(inbound, sha, Status.REJECTED)
        try:
            prepared, to_answer = self._steps(start, self.channels[inbound.channel])
            return self._answer(prepared) if to_answer else prepared
        except _Failed as failed:
            err, p = failed.error, failed.prepared
            status = Status.REJECTED if err.ack_code == "AR" else Status.ERROR
            return self._answer(replace(p, status=status, issues=err.issues))
        except Exception as exc:  # a bug on odd input must cost one AR, never the hub
            log.error("prepare_failed", error=type(exc).__name__, where=_where(exc), channel=inbound.channel)
            return self._answer(replace(start, status=Status.REJECTED, issues=(INTERNAL,)))

    def _steps(self, p: Prepared, policy: ChannelPolicy) -> tuple[Prepared, bool]:
        """Steps 1-5 on a frame the transport delivered whole, and whether its ACK is still to build.

        What each step learns is kept in locals and the outcome built once at the end (a
        `replace` per step cost as much as the mapping). HL7 errors, and bugs met on odd input,
        leave as `_Failed` with what was known then.
        """
        inbound = p.inbound
        codec, header, ruling = "", None, None

        def known(**changes: object) -> Prepared:
            if ruling is not None:
                changes.update(partner_id=ruling.partner_id, decision=ruling.reason, registry_mark=ruling.mark)
            return replace(p, codec=codec or p.codec, header=header, **changes)  # type: ignore[arg-type]

        try:
            if inbound.defect is not None:
                raise RejectError(defect_issue(inbound.defect))
            default = policy.default_charset
            if inbound.charset_hint:  # an HL7 label (8859/1) or a codec name (ISO-8859-1)
                default = charset_hint(inbound.charset_hint, self.charset_aliases)
            decoded = decode(inbound.raw, default, self.charset_aliases)
            codec = decoded.codec
            msg = parse(decoded.text, max_segments=policy.max_segments)
            header = read_header(msg)
            ruling = self._authorize(inbound, header, policy)
            is_ack = header.message_code == "ACK" or msg.first("MSA") is not None
            if not ruling.allowed:  # never ACK an ACK, even to refuse it
                return known(status=Status.REFUSED, issues=(LINK_REFUSED,)), not is_ack
            if is_ack:
                return known(status=Status.IGNORED), False
            check_header(header, policy)
            rule_warnings = self._certify(msg, header, policy)
            mapped = self._map(msg, header, policy)
            tolerance = policy.ruleset.nam_tolerance if policy.ruleset else DEFAULT_NAM_TOLERANCE
            mapped = scope(mapped, msg, self.directory.authorities_of(ruling.partner_id), tolerance)
            check_documents(mapped, policy)
        except HL7Error as err:
            if ruling is not None or header is not None:
                raise _Failed(err, known()) from None
            return self._before_authorization(known(), err, policy)
        except Exception as exc:  # a bug on odd input must cost one AR, never the hub
            log.error("prepare_failed", error=type(exc).__name__, where=_where(exc), channel=inbound.channel)
            raise _Failed(RejectError(INTERNAL), known()) from None
        mapped = apply_exclusions(mapped, policy.exclusions)
        status = Status.FILTERED if mapped.filtered_by and not mapped.records() else Status.ACCEPTED
        warnings = (*decoded.warnings, *msg.warnings, *rule_warnings, *mapped.warnings)
        transitions = policy.ruleset.transition_rule() if policy.ruleset else None
        if policy.certification:  # its ACK waits for the campaign's product (`_answer`)
            return known(status=status, issues=warnings, mapped=mapped, transitions=transitions), True
        # The common case: built once, with its ACK, instead of copied again to add it.
        ack, code = self.acks.accepted(header, codec, warnings)
        prepared = known(status=status, issues=warnings, mapped=mapped, transitions=transitions, ack=ack, ack_code=code)
        return prepared, False

    def _before_authorization(self, p: Prepared, err: HL7Error, policy: ChannelPolicy) -> tuple[Prepared, bool]:
        """The message failed before its sender was identified: authorize from its MSH alone.

        A sender refused by the link policy gets the bare AR 207, never the detail of what is
        wrong with its bytes. One that is allowed gets the error as usual; bytes whose MSH
        can't be read at all get the error of their envelope (no content to tell).
        """
        header = peek_header(p.inbound.raw)
        if header is None:
            raise _Failed(err, p)
        ruling = self._authorize(p.inbound, header, policy)
        p = replace(p, partner_id=ruling.partner_id, decision=ruling.reason, registry_mark=ruling.mark)
        if not ruling.allowed:
            return replace(p, status=Status.REFUSED, issues=(LINK_REFUSED,)), header.message_code != "ACK"
        raise _Failed(err, p)

    def _authorize(self, inbound: Inbound, header: Header, policy: ChannelPolicy) -> Ruling:
        """Step 2: the link policy; a refusal is a security event and spends a rate-limit token."""
        d = header.d
        ruling = self.directory.authorize(
            part(header.sending_application, d, 1),
            part(header.sending_facility, d, 1),
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
                control_id=short_id(header.control_id),
                partner=ruling.partner_id,
                reason=ruling.reason,
                peer_blocked=blocked,
            )
        return ruling

    def _certify(self, msg: Message, header: Header, policy: ChannelPolicy) -> list[Issue]:
        """Step 4: the channel's rule set; errors raise AE (one ERR each), warnings are returned."""
        if policy.ruleset is None:
            return []
        ctx = Context(now=self.acks.clock(), certification=policy.certification)
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
        """The ACK the outcome calls for, and certification traffic's campaign."""
        policy = self.channels.get(p.inbound.channel)
        if policy is not None and policy.certification and p.status is not Status.REFUSED and p.partner_id:
            p = replace(p, campaign_product=self.directory.product_of(p.partner_id))
        return self.acks.answer(p)


_UNIDENTIFIED = (Status.ERROR, Status.REJECTED, Status.PROTOCOL)  # REFUSED spends in `_authorize`


def _dropped(frames: list[Inbound]) -> Prepared:
    """One journal entry for the frames a blocked peer had queued: how many, how many bytes."""
    first = frames[0]
    size = sum(len(f.raw) for f in frames)
    issue = Issue(
        Code.OTHER,
        Location(),
        f"{len(frames)} trame(s) abandonnée(s) : pair bloqué",
        f"{len(frames)} frame(s) dropped: peer blocked",
        "W",
    )
    inbound = replace(first, raw=b"", size=size, defect=None)
    return Prepared(inbound, hashlib.sha256(b"").hexdigest(), Status.DROPPED, issues=(issue,))


class _Failed(Exception):  # noqa: N818 - carries a step's HL7 error with what was known then
    def __init__(self, error: HL7Error, prepared: Prepared) -> None:
        self.error = error
        self.prepared = prepared


def _where(exc: Exception) -> str:
    """file:line of the innermost frame, for the log (never the message)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""


def journal_raw(p: Prepared) -> bytes | None:
    """What of a refused attempt's bytes the journal keeps (accepted ones live in messages)."""
    return p.inbound.raw[:JOURNAL_RAW_CAP]
