"""Everything the repository holds for one patient, read inside the consultation's transaction.

A patient is read with every patient merged into it (hub/store/patient_view.py). Each record's
versions come in order, oldest first; the messages' reception times stand in for a clinical
date a record lacks. Nothing is filtered here: the refusals are applied by release.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store import patient_view
from hub.store.models import (
    DicomInstance,
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Message,
    Patient,
    PatientIdentifier,
    Unresolved,
)

Record = Any  # a row of a record table: its columns as attributes (sqlalchemy Row)


@dataclass
class Chart:
    """One patient's identity and records, grouped by record key, versions oldest first."""

    patient: Patient
    ids: list[int]  # the patient, then those merged into it
    identifiers: list[PatientIdentifier]
    # Rows of the record tables (hub/store/models/clinical.py), read by column name.
    orders: dict[str, list[Record]] = field(default_factory=dict)  # lab_orders
    observations: dict[str, list[Record]] = field(default_factory=dict)  # lab_observations
    medications: dict[str, list[Record]] = field(default_factory=dict)  # medication_events
    imaging_orders: dict[str, list[Record]] = field(default_factory=dict)
    reports: dict[str, list[Record]] = field(default_factory=dict)  # imaging_reports
    documents: dict[int, list[Record]] = field(default_factory=dict)  # imaging_documents by report row id
    instances: list[Record] = field(default_factory=list)  # dicom_instances
    received: dict[int, datetime] = field(default_factory=dict)  # message id -> received_at
    unresolved: bool = False  # some records that may be this patient's are held unresolved

    @property
    def nams(self) -> set[str]:
        """The NAMs this patient (or one merged into it) holds."""
        return {i.value for i in self.identifiers if i.is_nam}


def current(s: Session, patient_id: int) -> int | None:
    """The patient as they are now (a merged one's survivor), or None."""
    row = s.execute(select(Patient.id, Patient.merged_into).where(Patient.id == patient_id)).first()
    return None if row is None else int(row.merged_into or row.id)


def find(s: Session, authority: str, value: str) -> list[int]:
    """The patients (as they are now) holding this identifier under this authority."""
    ids = list(
        s.scalars(
            select(PatientIdentifier.patient_id).where(
                PatientIdentifier.authority == authority, PatientIdentifier.value == value
            )
        )
    )
    return patient_view.survivors(s, ids) if ids else []


def find_by_oid(s: Session, oid: str, value: str) -> list[int]:
    """The patients holding this identifier under the authority of this universal id (CX-4.2)."""
    ids = list(
        s.scalars(
            select(PatientIdentifier.patient_id).where(
                PatientIdentifier.authority_oid == oid, PatientIdentifier.value == value
            )
        )
    )
    return patient_view.survivors(s, ids) if ids else []


def load(s: Session, patient_id: int) -> Chart:
    """The chart of a current patient (not merged into another)."""
    patient = s.get(Patient, patient_id)
    assert patient is not None
    ids = patient_view.cluster(s, patient_id)
    idents = list(
        s.scalars(select(PatientIdentifier).where(PatientIdentifier.patient_id.in_(ids)).order_by(PatientIdentifier.id))
    )
    chart = Chart(patient, ids, idents)
    chart.orders = _grouped(s, LabOrder, ids)
    chart.observations = _grouped(s, LabObservation, ids)
    chart.medications = _grouped(s, MedicationEvent, ids)
    chart.imaging_orders = _grouped(s, ImagingOrder, ids)
    chart.reports = _grouped(s, ImagingReport, ids)
    report_ids = [r.id for versions in chart.reports.values() for r in versions]
    if report_ids:
        documents = ImagingDocument.__table__
        query = select(documents).where(documents.c.report_id.in_(report_ids)).order_by(documents.c.id)
        for doc in s.execute(query):
            chart.documents.setdefault(doc.report_id, []).append(doc)
    dicom = DicomInstance.__table__
    chart.instances = list(s.execute(select(dicom).where(dicom.c.patient_id.in_(ids)).order_by(dicom.c.id)))
    message_ids = {
        r.message_id
        for group in (chart.orders, chart.observations, chart.medications, chart.imaging_orders, chart.reports)
        for versions in group.values()
        for r in versions
    }
    if message_ids:
        rows = s.execute(select(Message.id, Message.received_at).where(Message.id.in_(sorted(message_ids))))
        chart.received = {mid: at for mid, at in rows}  # noqa: C416 - rows of two columns
    chart.unresolved = _held(s, chart)
    return chart


def _grouped(s: Session, model: Any, ids: list[int]) -> dict[str, list[Any]]:
    """The table's rows of these patients by record key, versions in order.

    Plain rows (a Core select), read by attribute like the model: a chart of a few hundred records
    costs a third of the ORM's instance building.
    """
    table = model.__table__
    out: dict[str, list[Any]] = defaultdict(list)
    query = select(table).where(table.c.patient_id.in_(ids)).order_by(table.c.key, table.c.version)
    for row in s.execute(query):
        out[row.key].append(row)
    return dict(out)


def _held(s: Session, chart: Chart) -> bool:
    """Whether an open hold names this patient as a candidate, or was sent one of its identifiers."""
    mine = {(i.authority, i.value) for i in chart.identifiers}
    for detail in s.scalars(select(Unresolved.detail).where(Unresolved.state == "open")):
        data = json.loads(detail or "{}")
        if set(data.get("candidates", [])) & set(chart.ids):
            return True
        if data.get("order_patient") in chart.ids:
            return True
        sent = {(i.get("authority", ""), i.get("value", "")) for i in data.get("identifiers", [])}
        if sent & mine:
            return True
    return False
