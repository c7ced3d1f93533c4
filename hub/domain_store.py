"""Pharmacy and imaging records of an accepted message, appended inside the store's transaction.

Like lab results, every record is version N+1 of its key: a prescription's events, an imaging
order's changes, a report's preliminary, final, corrected and amended versions. Nothing is
updated in place; the current state is the highest version.
"""

from __future__ import annotations

import json
from typing import cast

from sqlalchemy import Connection, Table, insert

from mappings import Mapped

from .lab_store import next_versions, row, take_version
from .models import ImagingDocument, ImagingOrder, ImagingReport, MedicationEvent

medication_events = cast(Table, MedicationEvent.__table__)
imaging_orders = cast(Table, ImagingOrder.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)
imaging_documents = cast(Table, ImagingDocument.__table__)


def insert_pharmacy(conn: Connection, mapped: Mapped, message_id: int, patient_id: int) -> None:
    """Append each medication event at the next version of its prescription."""
    events = mapped.medications
    versions = next_versions(conn, medication_events, [e.key for e in events])
    rows = []
    for event in events:
        values = row(event)
        values.pop("section")
        values.update(
            occurred_at=event.occurred_at or "",
            notes=json.dumps(list(event.notes), ensure_ascii=False),
            version=take_version(versions, event.key),
            message_id=message_id,
            patient_id=patient_id,
        )
        rows.append(values)
    if rows:
        conn.execute(insert(medication_events), rows)


def insert_imaging(conn: Connection, mapped: Mapped, message_id: int, patient_id: int) -> None:
    """Append imaging orders and report versions; a report's documents go with its version."""
    orders = mapped.imaging_orders
    versions = next_versions(conn, imaging_orders, [o.key for o in orders])
    rows = []
    for order in orders:
        values = row(order)
        values.update(
            ordered_at=order.ordered_at or "",
            version=take_version(versions, order.key),
            message_id=message_id,
            patient_id=patient_id,
        )
        rows.append(values)
    if rows:
        conn.execute(insert(imaging_orders), rows)
    reports = mapped.imaging_reports
    report_versions = next_versions(conn, imaging_reports, [r.key for r in reports])
    for report in reports:
        values = row(report)
        documents = values.pop("documents")
        values.update(
            observed_at=report.observed_at or "",
            reported_at=report.reported_at or "",
            findings=json.dumps([list(f) for f in report.findings], ensure_ascii=False),
            version=take_version(report_versions, report.key),
            message_id=message_id,
            patient_id=patient_id,
        )
        report_id = conn.execute(insert(imaging_reports).returning(imaging_reports.c.id), values).scalar_one()
        if documents:
            conn.execute(
                insert(imaging_documents),
                [
                    {
                        "report_id": report_id,
                        "media_type": d.media_type,
                        "encoding": d.encoding,
                        "sha256": d.sha256,
                        "size": d.size,
                        "data": d.data,
                    }
                    for d in documents
                ],
            )
