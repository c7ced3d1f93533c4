"""The rows of a record batch: built once, as tuples, staged until their ids are known, then written.

Each record becomes its INSERT's parameter tuple when it is staged (`Shape.row`: its attributes
as they are, then what the staging works out: versions, notes as JSON, ISO dates); the ids it
points to are appended at write time (`Shape.full`). No dict is made per row. Each table gets
one INSERT (executemany on the driver's cursor) per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from hub.store.driver import Driver, Shape
from hub.store.models import (
    ImagingDocument,
    ImagingOrder,
    ImagingReport,
    LabObservation,
    LabOrder,
    MedicationEvent,
    Message,
    PractitionerLink,
)
from mappings import Mapped
from mappings import records as mapped_records

messages = cast(Table, Message.__table__)
lab_orders = cast(Table, LabOrder.__table__)
lab_observations = cast(Table, LabObservation.__table__)
medication_events = cast(Table, MedicationEvent.__table__)
imaging_orders = cast(Table, ImagingOrder.__table__)
imaging_reports = cast(Table, ImagingReport.__table__)
imaging_documents = cast(Table, ImagingDocument.__table__)

VERSIONED: dict[str, Table] = {
    t.name: t for t in (lab_orders, lab_observations, medication_events, imaging_orders, imaging_reports)
}

# The values of a `messages` row, in the order `message_values` gives them.
MESSAGE_COLUMNS = (
    "channel", "peer", "sending_application", "sending_facility", "control_id", "message_type", "version",
    "charset", "sha256", "raw", "ack", "ack_code", "warnings", "received_at", "stored_at", "partner_id",
)  # fmt: skip

# Built once (building a statement costs more than running it); run on the driver's cursor.
# Each names what is computed at staging, then what is appended at write time.
_MESSAGES = Shape(messages, None, (*MESSAGE_COLUMNS, "id", "patient_id"))
_LAB_ORDERS = Shape(
    lab_orders, mapped_records.LabOrder,
    ("observed_at", "reported_at", "notes", "version", "message_id", "patient_id", "id"),
)  # fmt: skip
_OBSERVATIONS = Shape(
    lab_observations, mapped_records.Observation,
    ("observed_at", "notes", "version", "message_id", "patient_id", "order_id"),
)  # fmt: skip
_MEDICATIONS = Shape(
    medication_events, mapped_records.MedicationEvent, ("occurred_at", "notes", "version", "message_id", "patient_id")
)
_IMAGING_ORDERS = Shape(
    imaging_orders, mapped_records.ImagingOrder, ("ordered_at", "version", "message_id", "patient_id")
)
_REPORTS = Shape(
    imaging_reports, mapped_records.ImagingReport,
    ("observed_at", "reported_at", "findings", "version", "message_id", "patient_id", "id"),
)  # fmt: skip
_DOCUMENTS = Shape(imaging_documents, mapped_records.Document, ("report_id",))
_LINKS = Shape(cast(Table, PractitionerLink.__table__), None, ("field", "sent", "practitioner_id", "message_id"))

# (table, key, status) -> the next version of that key, which from then on is the latest
NextVersion = Callable[[str, str, str], int]
Row = tuple[Any, ...]


def message_values(
    *, channel: str, peer: str, sending_application: str, sending_facility: str, control_id: str,
    message_type: str, version: str, charset: str, sha256: str, raw: bytes, ack: bytes, ack_code: str,
    warnings: str, received_at: datetime, stored_at: datetime, partner_id: str,
) -> Row:  # fmt: skip
    """A `messages` row as staged (in MESSAGE_COLUMNS order; its id and patient come at write time)."""
    return (
        channel, peer, sending_application, sending_facility, control_id, message_type, version, charset, sha256,
        raw, ack, ack_code, warnings, received_at, stored_at, partner_id,
    )  # fmt: skip


class NewPatient:
    """A patient this batch creates; `id` is set when the ids are drawn."""

    __slots__ = ("id", "order", "values")

    def __init__(self, values: dict[str, Any], order: int) -> None:
        self.values = values
        self.order = order  # creation order within the batch: the INSERT gives ids in this order
        self.id = 0


PatientRef = int | NewPatient


def patient_id(ref: PatientRef) -> int:
    """The id of a stored or new patient."""
    return ref if isinstance(ref, int) else ref.id


def patient_id_or_none(ref: PatientRef | None) -> int | None:
    """The id of a stored or new patient, None for a message held unresolved."""
    return None if ref is None else ref if isinstance(ref, int) else ref.id


@dataclass
class Staged:
    """Rows waiting for the ids they point to: (index of what they hang on, row as staged)."""

    messages: list[tuple[Row, PatientRef | None]] = field(default_factory=list)  # None: held
    lab_orders: list[tuple[int, Row]] = field(default_factory=list)  # message index
    observations: list[tuple[int, int, Row]] = field(default_factory=list)  # message, order index
    medications: list[tuple[int, Row]] = field(default_factory=list)
    imaging_orders: list[tuple[int, Row]] = field(default_factory=list)
    reports: list[tuple[int, Row]] = field(default_factory=list)
    documents: list[tuple[int, Row]] = field(default_factory=list)  # report index
    links: list[tuple[int, Row]] = field(default_factory=list)  # message index: providers named

    def records(self, index: int, mapped: Mapped, next_version: NextVersion) -> None:
        """Stage the records of the message staged at `index`, each at the next version of its key."""
        for order in mapped.lab_orders:
            version = next_version("lab_orders", order.key, order.status)
            row = _LAB_ORDERS.row(
                order, order.observed_at or "", order.reported_at or "", _json_list(order.notes), version
            )
            order_index = len(self.lab_orders)
            self.lab_orders.append((index, row))
            for obs in order.observations:
                version = next_version("lab_observations", obs.key, obs.status)
                obs_row = _OBSERVATIONS.row(obs, obs.observed_at or "", _json_list(obs.notes), version)
                self.observations.append((index, order_index, obs_row))
        for event in mapped.medications:
            version = next_version("medication_events", event.key, event.status)
            row = _MEDICATIONS.row(event, event.occurred_at or "", _json_list(event.notes), version)
            self.medications.append((index, row))
        for imaging_order in mapped.imaging_orders:
            version = next_version("imaging_orders", imaging_order.key, "")
            self.imaging_orders.append(
                (index, _IMAGING_ORDERS.row(imaging_order, imaging_order.ordered_at or "", version))
            )
        for report in mapped.imaging_reports:
            version = next_version("imaging_reports", report.key, report.status)
            findings = json.dumps([list(f) for f in report.findings], ensure_ascii=False)
            row = _REPORTS.row(report, report.observed_at or "", report.reported_at or "", findings, version)
            report_index = len(self.reports)
            self.reports.append((index, row))
            for document in report.documents:
                self.documents.append((report_index, _DOCUMENTS.row(document)))

    def link(self, index: int, provider_field: str, sent: str, practitioner_id: str | None) -> None:
        """A provider the message at `index` names, and the practitioner holding its licence (or None)."""
        self.links.append((index, (provider_field, sent, practitioner_id)))

    def write(self, drv: Driver, ids: dict[str, list[int]]) -> None:
        """Write the messages and their records, one statement per table (after their patients)."""
        patient_ids = [patient_id_or_none(ref) for _m, ref in self.messages]
        message_ids = ids["messages"]
        drv.insert_rows(
            _MESSAGES,
            [
                _MESSAGES.full(m, mid, pid)
                for (m, _r), mid, pid in zip(self.messages, message_ids, patient_ids, strict=True)
            ],
        )
        order_ids, report_ids = ids["lab_orders"], ids["imaging_reports"]
        drv.insert_rows(
            _LAB_ORDERS,
            [
                _LAB_ORDERS.full(r, message_ids[i], patient_ids[i], oid)
                for (i, r), oid in zip(self.lab_orders, order_ids, strict=True)
            ],
        )
        drv.insert_rows(
            _OBSERVATIONS,
            [_OBSERVATIONS.full(r, message_ids[i], patient_ids[i], order_ids[o]) for i, o, r in self.observations],
        )
        drv.insert_rows(
            _MEDICATIONS, [_MEDICATIONS.full(r, message_ids[i], patient_ids[i]) for i, r in self.medications]
        )
        drv.insert_rows(
            _IMAGING_ORDERS, [_IMAGING_ORDERS.full(r, message_ids[i], patient_ids[i]) for i, r in self.imaging_orders]
        )
        drv.insert_rows(
            _REPORTS,
            [
                _REPORTS.full(r, message_ids[i], patient_ids[i], rid)
                for (i, r), rid in zip(self.reports, report_ids, strict=True)
            ],
        )
        drv.insert_rows(_DOCUMENTS, [_DOCUMENTS.full(r, report_ids[i]) for i, r in self.documents])
        drv.insert_rows(_LINKS, [_LINKS.full(r, message_ids[i]) for i, r in self.links])


def _json_list(items: Sequence[str]) -> str:
    """A list of notes as JSON text (most records have none)."""
    return json.dumps(list(items), ensure_ascii=False) if items else "[]"
