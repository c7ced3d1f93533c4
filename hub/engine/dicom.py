"""DICOM import: one object, one transaction holding its metadata, its patient and its journal entry.

Used by `passerelle dicom import` and by the SOAP channel. The object's bytes are read, never
kept (no pixel data in the repository); its SHA-256 is. Dedupe is on the SOP Instance UID:
the same bytes again are a duplicate, other bytes under the same UID a conflict.

The study's patient is the patient of an HL7 imaging order or report with the same accession
number or Study Instance UID when there is one, else the one its Patient ID (with Issuer of
Patient ID) designates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, or_, select, text

from hub.engine.outcome import Status
from hub.engine.writer import StaleDirectory
from hub.governance.directory import MARK_SQL
from hub.governance.journal import ChainWriter
from hub.store.models import DicomInstance, ImagingOrder, ImagingReport
from hub.store.records import resolve_patient
from mappings.dicom import DicomError, DicomObject, read_dicom

dicom_instances = cast(Table, DicomInstance.__table__)
imaging_orders = cast(Table, ImagingOrder.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)


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
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    registry_mark: tuple[object, ...] | None = None,
) -> DicomResult:
    """Import one DICOM object; never raises for bad input (the attempt is journaled).

    With `registry_mark` (the registry version the link was decided at), the transaction first
    reads the registry's version and raises `StaleDirectory` when it moved: the caller decides
    the link again, so a cut or a rotated certificate is in force from the first commit after it.
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

        result = _store(conn, obj=obj, problem=problem, sha=sha, journal=journal, source=source, clock=clock)
        chain.close()
        return result


def _store(
    conn: Connection,
    *,
    obj: DicomObject | None,
    problem: DicomError | None,
    sha: str,
    journal: Callable[..., None],
    source: str,
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
    linked = _linked(conn, obj)
    if linked:
        patient_id = linked[0][1]
    elif obj.patient.identifiers:
        patient_id = resolve_patient(conn, obj.patient, clock())
    else:
        text = "no Patient ID (0010,0020) and no HL7 order or report with its accession or Study UID"
        journal(Status.ERROR, text, uid, codes="101")
        return DicomResult(Status.ERROR, text, uid, obj.study_uid)
    conn.execute(insert(dicom_instances), _instance_row(obj, sha, patient_id, source, clock()))
    keys = tuple(dict.fromkeys(key for key, _patient in linked))
    reason = f"linked to {len(keys)} order(s)/report(s)" if keys else "no HL7 order or report linked yet"
    journal(Status.ACCEPTED, reason, uid)
    return DicomResult(Status.ACCEPTED, reason, uid, obj.study_uid, patient_id, keys)


def _instance_row(obj: DicomObject, sha: str, patient_id: int, source: str, now: datetime) -> dict[str, Any]:
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


def _linked(conn: Connection, obj: DicomObject) -> list[tuple[str, int]]:
    """(key, patient id) of the orders and reports sharing the object's accession or Study UID, newest first."""
    out: list[tuple[str, int]] = []
    for table in (imaging_reports, imaging_orders):
        match: list[Any] = [table.c.study_uid == obj.study_uid]
        if obj.accession:
            match.append(table.c.accession == obj.accession)
        rows = conn.execute(
            select(table.c.key, table.c.patient_id).where(or_(*match)).order_by(table.c.id.desc())
        ).all()
        out.extend((r.key, r.patient_id) for r in rows)
    return out


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
