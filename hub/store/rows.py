"""The rows of a record batch: records as row dicts, staged until their ids are known, then written.

Each table gets one INSERT (executemany on the driver's cursor) per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast

from sqlalchemy import Table

from hub.store.driver import Driver, Insert
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

# Built once (building a statement costs more than running it); run on the driver's cursor.
_INSERT_MESSAGES = Insert(messages, with_id=True)
_INSERT_LAB_ORDERS = Insert(lab_orders, with_id=True)
_INSERT_OBSERVATIONS = Insert(lab_observations)
_INSERT_MEDICATIONS = Insert(medication_events)
_INSERT_IMAGING_ORDERS = Insert(imaging_orders)
_INSERT_REPORTS = Insert(imaging_reports, with_id=True)
_INSERT_DOCUMENTS = Insert(imaging_documents)
_INSERT_LINKS = Insert(cast(Table, PractitionerLink.__table__))

_FIELDS: dict[type, tuple[str, ...]] = {}

# (table, key, status) -> the next version of that key, which from then on is the latest
NextVersion = Callable[[str, str, str], int]


def row(record: object) -> dict[str, Any]:
    """A record's fields as a dict, shallow (dataclasses.asdict deep-copies: 25% of the writer's CPU)."""
    names = _FIELDS.get(type(record))
    if names is None:
        names = _FIELDS[type(record)] = tuple(f.name for f in fields(record))  # type: ignore[arg-type]
    return {n: getattr(record, n) for n in names}


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
    """Rows waiting for the ids they point to: (index of what they hang on, row)."""

    messages: list[tuple[dict[str, Any], PatientRef | None]] = field(default_factory=list)  # None: held
    lab_orders: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # message index
    observations: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # message, order index
    medications: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    imaging_orders: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    reports: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    documents: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # report index
    links: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # message index: providers named

    def records(self, index: int, mapped: Mapped, next_version: NextVersion) -> None:
        """Stage the records of the message staged at `index`, each at the next version of its key."""
        self._lab(index, mapped, next_version)
        for event in mapped.medications:
            values = row(event)
            values.pop("section")
            values.update(
                occurred_at=event.occurred_at or "",
                notes=_json_list(event.notes),
                version=next_version("medication_events", event.key, event.status),
            )
            self.medications.append((index, values))
        for imaging_order in mapped.imaging_orders:
            values = row(imaging_order)
            values.update(
                ordered_at=imaging_order.ordered_at or "",
                version=next_version("imaging_orders", imaging_order.key, ""),
            )
            self.imaging_orders.append((index, values))
        self._reports(index, mapped, next_version)

    def _lab(self, index: int, mapped: Mapped, next_version: NextVersion) -> None:
        for order in mapped.lab_orders:
            values = row(order)
            values.pop("observations")
            values.update(
                observed_at=order.observed_at or "",
                reported_at=order.reported_at or "",
                notes=_json_list(order.notes),
                version=next_version("lab_orders", order.key, order.status),
            )
            order_index = len(self.lab_orders)
            self.lab_orders.append((index, values))
            for obs in order.observations:
                obs_row = row(obs)
                obs_row.update(
                    observed_at=obs.observed_at or "",
                    notes=_json_list(obs.notes),
                    version=next_version("lab_observations", obs.key, obs.status),
                )
                self.observations.append((index, order_index, obs_row))

    def _reports(self, index: int, mapped: Mapped, next_version: NextVersion) -> None:
        for report in mapped.imaging_reports:
            values = row(report)
            documents = values.pop("documents")
            values.update(
                observed_at=report.observed_at or "",
                reported_at=report.reported_at or "",
                findings=json.dumps([list(f) for f in report.findings], ensure_ascii=False),
                version=next_version("imaging_reports", report.key, report.status),
            )
            report_index = len(self.reports)
            self.reports.append((index, values))
            for d in documents:
                document = {"media_type": d.media_type, "encoding": d.encoding, "sha256": d.sha256}
                self.documents.append((report_index, {**document, "size": d.size, "data": d.data}))

    def write(self, drv: Driver, ids: dict[str, list[int]]) -> None:
        """Write the messages and their records, one statement per table (after their patients)."""
        patient_ids = [patient_id_or_none(ref) for _m, ref in self.messages]
        message_ids = ids["messages"]
        drv.insert(
            _INSERT_MESSAGES,
            [
                {**m, "id": mid, "patient_id": pid}
                for (m, _r), mid, pid in zip(self.messages, message_ids, patient_ids, strict=True)
            ],
        )

        def owner(index: int) -> dict[str, int | None]:
            return {"message_id": message_ids[index], "patient_id": patient_ids[index]}

        order_ids, report_ids = ids["lab_orders"], ids["imaging_reports"]
        drv.insert(
            _INSERT_LAB_ORDERS,
            [{**r, **owner(i), "id": oid} for (i, r), oid in zip(self.lab_orders, order_ids, strict=True)],
        )
        observations = [{**r, **owner(i), "order_id": order_ids[o]} for i, o, r in self.observations]
        drv.insert(_INSERT_OBSERVATIONS, observations)
        drv.insert(_INSERT_MEDICATIONS, [{**r, **owner(i)} for i, r in self.medications])
        drv.insert(_INSERT_IMAGING_ORDERS, [{**r, **owner(i)} for i, r in self.imaging_orders])
        drv.insert(
            _INSERT_REPORTS,
            [{**r, **owner(i), "id": rid} for (i, r), rid in zip(self.reports, report_ids, strict=True)],
        )
        drv.insert(_INSERT_DOCUMENTS, [{**r, "report_id": report_ids[i]} for i, r in self.documents])
        drv.insert(_INSERT_LINKS, [{**r, "message_id": message_ids[i]} for i, r in self.links])


def _json_list(items: Sequence[str]) -> str:
    """A list of notes as JSON text (most records have none)."""
    return json.dumps(list(items), ensure_ascii=False) if items else "[]"
