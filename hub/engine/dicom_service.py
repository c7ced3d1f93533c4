"""SubmitDICOM: the link is decided by the TLS certificate, then the import runs in a thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from hub.governance.directory import PartnerDirectory
from hub.interfaces import DicomReply

from .dicom import import_dicom, journal_refused

log = structlog.get_logger("passerelle.dicom")


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
