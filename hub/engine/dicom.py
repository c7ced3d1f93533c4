"""DICOM import: one object, one transaction holding its metadata, its patient and its journal entry.

Used by `passerelle dicom import` and by the SOAP channel. The object's bytes are read, never
kept (no pixel data in the repository); its SHA-256 is. Dedupe is on the SOP Instance UID:
the same bytes again are a duplicate, other bytes under the same UID a conflict.

The study's patient is the patient of an HL7 imaging order or report of the same organization
with the same accession number or Study Instance UID when there is one, else the one its
Patient ID (with Issuer of Patient ID) designates (hub/engine/dicom_link.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, text

from hub.engine.outcome import Status
from hub.engine.writer import StaleDirectory
from hub.governance.directory import MARK_SQL
from hub.governance.journal import ChainWriter
from hub.store.models import DicomInstance
from mappings.dicom import DicomError, DicomObject, read_dicom

from . import dicom_link

dicom_instances = cast(Table, DicomInstance.__table__)


@dataclass(frozen=True, slots=True)
class DicomResult:
    """What became of one object."""

    status: Status  # accepted, duplicate, conflict or error
    text: str  # for people: the error, or what the object was linked to
    sop_instance_uid: str = ""
    study_uid: str = ""
    patient_id: int | None = None
    linked: tuple[str, ...] = ()  # order and report keys sharing its accession or Study UID

    @property
    def ok(self) -> bool:
        """Stored now or before."""
        return self.status in (Status.ACCEPTED, Status.DUPLICATE)


def import_dicom(
    engine: Engine,
    data: bytes,
    *,
    channel: str,
    source: str,
    peer: str = "",
    partner_id: str = "",
    organization: str = "",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    registry_mark: tuple[object, ...] | None = None,
) -> DicomResult:
    """Import one DICOM object; never raises for bad input (the attempt is journaled).

    With `registry_mark` (the registry version the link was decided at), the transaction first
    reads the registry's version and raises `StaleDirectory` when it moved: the caller decides
    the link again, so a cut or a rotated certificate is in force from the first commit after it.
    `organization` is the one the operator names when no issuer or partner tells it.
    """
    sha = hashlib.sha256(data).hexdigest()
    try:
        obj: DicomObject | None = read_dicom(data)
        problem: DicomError | None = None
    except DicomError as err:
        obj, problem = None, err
    with engine.begin() as conn:
        if registry_mark is not None and tuple(conn.execute(text(MARK_SQL)).one()) != registry_mark:
            raise StaleDirectory
        chain = ChainWriter(conn)

        fixed = {
            "channel": channel, "peer": peer, "sha256": sha, "size": len(data), "sending_application": source,
            "sending_facility": "", "message_type": "DICOM", "ack_code": "", "message_id": None,
            "partner_id": partner_id, "decision": "",
        }  # fmt: skip

        def journal(status: Status, reason: str, uid: str = "", raw: bytes | None = None, codes: str = "") -> None:
            entry = {"at": clock(), "status": status.value, "raw": raw, "control_id": uid, "codes": codes}
            chain.append({**fixed, **entry, "reason": reason})

        if obj is not None:
            organization = dicom_link.organization_of(conn, obj, partner_id, organization)
        result = _store(
            conn, obj=obj, problem=problem, sha=sha, journal=journal, origin=(source, organization), clock=clock
        )
        chain.close()
        return result


def _store(
    conn: Connection,
    *,
    obj: DicomObject | None,
    problem: DicomError | None,
    sha: str,
    journal: Callable[..., None],
    origin: tuple[str, str],
    clock: Callable[[], datetime],
) -> DicomResult:
    if obj is None:
        assert problem is not None
        journal(Status.ERROR, problem.text_en, codes="102")
        return DicomResult(Status.ERROR, problem.text_en)
    uid = obj.sop_instance_uid
    known = conn.execute(
        select(dicom_instances.c.sha256, dicom_instances.c.patient_id).where(dicom_instances.c.sop_instance_uid == uid)
    ).first()
    if known is not None:
        if known.sha256 == sha:
            journal(Status.DUPLICATE, "SOP Instance UID already imported with the same bytes", uid)
            return DicomResult(Status.DUPLICATE, "already imported", uid, obj.study_uid, known.patient_id)
        journal(Status.CONFLICT, "SOP Instance UID already imported with other bytes", uid, codes="205")
        return DicomResult(Status.CONFLICT, "SOP Instance UID already imported with other bytes", uid, obj.study_uid)
    source, organization = origin
    linked = dicom_link.linked(conn, obj, organization)
    held: dict[str, Any] | None = None
    patient_id: int | None
    if linked:
        patient_id = linked[0][1]
        held = dicom_link.contradiction(conn, obj, patient_id)
        if held is not None:
            patient_id = None
    elif obj.patient.identifiers:
        patient_id = dicom_link.patient_from_id(conn, obj, organization, clock())
    else:
        text = "no Patient ID (0010,0020) and no HL7 order or report with its accession or Study UID"
        journal(Status.ERROR, text, uid, codes="101")
        return DicomResult(Status.ERROR, text, uid, obj.study_uid)
    row = {**_instance_row(obj, sha, patient_id, source, clock()), "organization_id": organization}
    instance_id = conn.execute(insert(dicom_instances).returning(dicom_instances.c.id), row).scalar_one()
    keys = tuple(dict.fromkeys(key for key, _patient in linked))
    reason = f"linked to {len(keys)} order(s)/report(s)" if keys else "no HL7 order or report linked yet"
    if held is not None:
        hold = dicom_link.hold(conn, int(instance_id), held, clock())
        reason = f"held unresolved ({hold}): its Patient ID is not the linked order's patient"
    journal(Status.ACCEPTED, reason, uid)
    return DicomResult(Status.ACCEPTED, reason, uid, obj.study_uid, patient_id, keys)


def _instance_row(obj: DicomObject, sha: str, patient_id: int | None, source: str, now: datetime) -> dict[str, Any]:
    """The `dicom_instances` row of an imported object."""
    return {
        "sop_instance_uid": obj.sop_instance_uid,
        "sop_class_uid": obj.sop_class_uid,
        "study_uid": obj.study_uid,
        "series_uid": obj.series_uid,
        "accession": obj.accession,
        "patient_id": patient_id,
        "modality": obj.modality,
        "study_date": obj.study_date,
        "study_description": obj.study_description,
        "series_description": obj.series_description,
        "charset": obj.charset,
        "report_text": obj.report_text,
        "sha256": sha,
        "size": obj.size,
        "source": source,
        "imported_at": now,
    }


def journal_refused(
    engine: Engine, data: bytes, *, channel: str, peer: str, decision: str, partner_id: str = ""
) -> None:
    """A DICOM submission whose link was refused: journaled (hash and size only), nothing read."""
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        chain.append(
            {
                "at": datetime.now(UTC),
                "status": Status.REFUSED.value,
                "channel": channel,
                "peer": peer,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "raw": None,
                "sending_application": "",
                "sending_facility": "",
                "control_id": "",
                "message_type": "DICOM",
                "ack_code": "",
                "codes": "207",
                "reason": "link not authorized",
                "message_id": None,
                "partner_id": partner_id,
                "decision": decision,
            }
        )
        chain.close()
