"""SubmitDICOM: the link is decided by the TLS certificate, then the import runs in a thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from hub.governance.directory import PartnerDirectory, Ruling
from hub.governance.limiter import RefusalLimiter
from hub.interfaces import DicomReply

from .dicom import import_dicom, journal_refused
from .intake import MAX_STALE
from .writer import StaleDirectory

log = structlog.get_logger("passerelle.dicom")


@dataclass
class DicomService:
    """SubmitDICOM: the link is decided by the TLS certificate, then the import runs in a thread."""

    engine: Engine
    directory: PartnerDirectory
    domains: dict[str, str]  # channel -> domain
    limiter: RefusalLimiter = field(default_factory=RefusalLimiter)

    def submit(self, data: bytes, peer: str, channel: str, tls_fingerprint: str) -> Deferred[DicomReply]:
        """Authorize, import and journal one object; never errbacks."""
        return deferToThread(self._submit, data, peer, channel, tls_fingerprint).addErrback(self._failed)

    def _submit(self, data: bytes, peer: str, channel: str, fingerprint: str) -> DicomReply:
        for _attempt in range(MAX_STALE):
            self.directory.refresh(self.engine)
            ruling = self.directory.authorize_certificate(fingerprint, channel, self.domains.get(channel, ""))
            if not ruling.allowed:
                return self._refused(data, peer, channel, ruling)
            try:
                result = import_dicom(
                    self.engine, data, channel=channel, source=channel, peer=peer, partner_id=ruling.partner_id,
                    registry_mark=ruling.mark,
                )  # fmt: skip
            except StaleDirectory:  # the registry changed since the link was decided: decide again
                continue
            return DicomReply(result.status.value, result.text, result.study_uid, result.sop_instance_uid)
        return self._failed(None)

    def _refused(self, data: bytes, peer: str, channel: str, ruling: Ruling) -> DicomReply:
        """A refused link: journaled with the object's bytes (capped), and a token of the peer's bucket spent."""
        blocked = self.limiter.refused(peer)
        log.warning(
            "link_refused", channel=channel, peer=peer, partner=ruling.partner_id, reason=ruling.reason,
            peer_blocked=blocked,
        )  # fmt: skip
        journal_refused(
            self.engine, data, channel=channel, peer=peer, decision=ruling.reason, partner_id=ruling.partner_id
        )
        return DicomReply("refused", "lien non autorisé / link not authorized")

    def _failed(self, failure: Any) -> DicomReply:
        error = failure.type.__name__ if failure is not None and failure.type else "directory_unsettled"
        log.error("dicom_failed", error=error)
        return DicomReply("error", "dépôt indisponible, renvoyer plus tard / repository unavailable, resend later")
