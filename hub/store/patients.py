"""The patient register inside a record batch: who each message is about, decided once, never guessed.

For one batch, `PatientIndex` loads the patients behind the batch's identifiers (each followed to
its surviving patient when it was merged) and then, message by message in arrival order:

    resolve  the NAM is the provincial key; a local identifier counts only under its authority
             (scoped before the writer: hub/engine/scope.py). One patient found: that patient;
             none: a new one. Held, linked to no one, when
               - the identifiers point to two or more patients (a NAM and an MRN, or two MRNs);
               - the NAM contradicts PID-5/7/8 beyond the rule set's tolerance;
               - only the NAM is known and its patient has other demographics than the ones sent
                 with the new local identifier.
    attach   new identifiers are added to the patient; a sent name, birth date, sex or address
             that differs from the current version makes a new version (empty means not sent).
    merge    ADT^A40: the MRG-1 patient is merged into the PID-3 one (both must be known).

Everything is staged and written with the batch: one statement per table.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from hub.store.driver import Driver, Insert, Read, Rows, sqlite_stamp
from hub.store.models import Patient, PatientIdentifier, PatientMerge, PatientVersion, Unresolved
from hub.store.rows import NewPatient, PatientRef, patient_id
from mappings import Identifier
from mappings.records import Patient as PatientRecord

DEMOGRAPHICS = ("family", "given", "birth_date", "sex", "address")

_BY_VALUE = (
    'SELECT i."authority", i."value", i."patient_id", s."id", s."family", s."given", s."birth_date", s."sex", '
    's."address", s."version" FROM "patient_identifiers" i JOIN "patients" p ON p."id" = i."patient_id" '
    'JOIN "patients" s ON s."id" = COALESCE(p."merged_into", p."id") WHERE i.'
)
_UPDATE = (
    'UPDATE "patients" SET "family" = {mark}, "given" = {mark}, "birth_date" = {mark}, "sex" = {mark}, '
    '"address" = {mark}, "version" = {mark}, "updated_at" = {mark} WHERE "id" = {mark}'
)
# Merges stay one hop deep: whoever was merged into the merged patient now points to the survivor.
_MERGE = 'UPDATE "patients" SET "merged_into" = {mark} WHERE "id" = {mark} OR "merged_into" = {mark}'
_INSERT_PATIENTS = Insert(cast(Table, Patient.__table__), with_id=True)
_INSERT_IDENTIFIERS = Insert(cast(Table, PatientIdentifier.__table__))
_INSERT_VERSIONS = Insert(cast(Table, PatientVersion.__table__))
_INSERT_MERGES = Insert(cast(Table, PatientMerge.__table__))
_INSERT_UNRESOLVED = Insert(cast(Table, Unresolved.__table__))
_IN_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Resolution:
    """Who a message is about: a patient, or no one and why (the message is then held)."""

    patient: PatientRef | None
    reason: str = ""  # identifier-conflict, nam-conflict, nam-check, nam-demographics
    candidates: tuple[int, ...] = ()


@dataclass
class _Staged:
    new: list[NewPatient] = field(default_factory=list)
    identifiers: list[tuple[PatientRef, dict[str, Any]]] = field(default_factory=list)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    versions: list[tuple[PatientRef, int, dict[str, Any]]] = field(default_factory=list)  # message index
    unresolved: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # merged, survivor, message index


class PatientIndex:
    """The batch's view of the patient register: loaded once, updated as messages are staged."""

    def __init__(self, driver: Driver, now: datetime) -> None:
        self.driver = driver
        self.now = now
        self._of: dict[tuple[str, str], PatientRef] = {}  # identifier -> surviving patient
        self._own: dict[tuple[str, str], int] = {}  # identifier -> the patient it was filed under
        self._current: dict[PatientRef, dict[str, Any]] = {}  # demographics and "version"
        self._staged = _Staged()

    # -- load -------------------------------------------------------------------------------

    def reads(self, people: Iterable[PatientRecord | tuple[Identifier, ...]]) -> list[Read]:
        """One query per 5,000 identifier values: their patients, followed to the survivor."""
        values: set[str] = set()
        for p in people:
            values.update(i.value for i in (p.identifiers if isinstance(p, PatientRecord) else p))
        ordered = sorted(values)
        reads: list[Read] = []
        for start in range(0, len(ordered), _IN_CHUNK):
            condition, params = self.driver.any_of("value", ordered[start : start + _IN_CHUNK])
            reads.append((_BY_VALUE + condition, params, self._take))
        return reads

    def _take(self, rows: Rows) -> None:
        for authority, value, own, survivor, family, given, birth_date, sex, address, version in rows:
            self._of[(authority, value)] = survivor
            self._own[(authority, value)] = own
            self._current.setdefault(
                survivor,
                {"family": family, "given": given, "birth_date": birth_date, "sex": sex, "address": address}
                | {"version": version},
            )

    # -- decide -----------------------------------------------------------------------------

    def resolve(self, person: PatientRecord) -> Resolution:
        """Who `person` is, without changing anything yet."""
        of = self._of
        known = [(i.is_nam, of[(i.authority, i.value)]) for i in person.identifiers if (i.authority, i.value) in of]
        by_nam = {ref for is_nam, ref in known if is_nam}
        by_local = {ref for is_nam, ref in known if not is_nam}
        found = by_nam | by_local
        ids = tuple(sorted(patient_id(r) for r in found if isinstance(r, int)))
        if person.nam_doubtful:
            return Resolution(None, "nam-check", ids)
        if len(found) > 1:
            return Resolution(None, "nam-conflict" if by_nam and by_local else "identifier-conflict", ids)
        if not found:
            return Resolution(None)
        (ref,) = found
        new_local = any(not i.is_nam and (i.authority, i.value) not in self._of for i in person.identifiers)
        if by_nam and not by_local and new_local and not _same_person(self._current[ref], person):
            return Resolution(None, "nam-demographics", ids)
        return Resolution(ref)

    def attach(self, person: PatientRecord, resolution: Resolution, message: int) -> PatientRef:
        """File `person` as resolved (a new patient when no one matched); the patient it is now."""
        sent = _demographics(person)
        ref = resolution.patient
        if ref is None:
            values = {**{k: v or "" for k, v in sent.items()}, "version": 1}
            ref = NewPatient({**values, "created_at": self.now, "updated_at": self.now}, len(self._staged.new))
            self._staged.new.append(ref)
            self._current[ref] = values
            self._staged.versions.append((ref, message, dict(values)))
        else:
            current = self._current[ref]
            changed = {k: v for k, v in sent.items() if v and v != current[k]}
            if changed:
                current.update(changed, version=current["version"] + 1)
                if isinstance(ref, int):
                    self._staged.updates[ref] = dict(current)
                else:
                    ref.values.update(current, updated_at=self.now)
                self._staged.versions.append((ref, message, dict(current)))
        for ident in person.identifiers:
            pair = (ident.authority, ident.value)
            if pair not in self._of:
                self._of[pair] = ref
                self._staged.identifiers.append((ref, _identifier_row(ident)))
        return ref

    def hold(self, person: PatientRecord, resolution: Resolution, message: int) -> None:
        """Keep the message unresolved: what was sent and who it could be, for a person to decide."""
        detail = {
            "identifiers": [
                {"authority": i.authority, "value": i.value, "type": i.type_code} for i in person.identifiers
            ],
            "sent": _demographics(person),
            "candidates": list(resolution.candidates),
        }
        row = {"reason": resolution.reason, "detail": json.dumps(detail, ensure_ascii=False), "state": "open"}
        self._staged.unresolved.append((message, {**row, "created_at": self.now}))

    def merge(self, survivor: PatientRecord, merged: tuple[Identifier, ...], message: int) -> str:
        """ADT^A40: the MRG-1 patient into the PID-3 one; "" when done, else what is wrong."""
        kept = self.resolve(survivor)
        if not isinstance(kept.patient, int) or kept.reason:
            return "survivor"
        pairs = [(i.authority, i.value) for i in merged if (i.authority, i.value) in self._own]
        away = {self._own[pair] for pair in pairs}
        if len(away) != 1:
            return "merged"
        (gone,) = away
        target = kept.patient
        if gone == target or self._of[pairs[0]] == target:
            return "same"
        for pair, ref in self._of.items():
            if ref == gone or self._own.get(pair) == gone:
                self._of[pair] = target
        self._staged.merges.append((gone, target, message))
        return ""

    # -- write ------------------------------------------------------------------------------

    def write_patients(self, drv: Driver) -> None:
        """New patients, changed demographics and new identifiers (before the messages)."""
        staged = self._staged
        drv.insert(_INSERT_PATIENTS, [{**p.values, "id": p.id} for p in staged.new])
        if staged.updates:
            rows = []
            for pid, v in staged.updates.items():
                stamp: Any = sqlite_stamp(self.now) if drv.sqlite else self.now
                rows.append((*(v[k] for k in DEMOGRAPHICS), v["version"], stamp, pid))
            drv.execute_many(_UPDATE, rows)
        drv.insert(_INSERT_IDENTIFIERS, [{**r, "patient_id": patient_id(ref)} for ref, r in staged.identifiers])

    def write_after(self, drv: Driver, message_ids: list[int]) -> None:
        """Versions, holds and merges, which point to the messages that brought them."""
        staged = self._staged
        drv.insert(
            _INSERT_VERSIONS,
            [
                {**v, "patient_id": patient_id(ref), "message_id": _message(message_ids, i), "recorded_at": self.now}
                for ref, i, v in staged.versions
            ],
        )
        drv.insert(_INSERT_UNRESOLVED, [{**r, "message_id": message_ids[i]} for i, r in staged.unresolved])
        merges = [
            {"action": "merge", "merged_id": gone, "survivor_id": kept, "message_id": message_ids[i], "at": self.now}
            for gone, kept, i in staged.merges
        ]
        drv.insert(_INSERT_MERGES, [{**m, "operator": "", "reason": "ADT^A40"} for m in merges])
        drv.execute_many(_MERGE, [(kept, gone, gone) for gone, kept, _i in staged.merges])
        self._staged = _Staged()

    @property
    def new_patients(self) -> list[NewPatient]:
        """The patients this batch creates, in creation order."""
        return self._staged.new


def _message(message_ids: list[int], index: int) -> int | None:
    """The id of the message staged at `index`; -1 stands for none (a DICOM import)."""
    return message_ids[index] if index >= 0 else None


def _demographics(person: PatientRecord) -> dict[str, str]:
    return {
        "family": person.family,
        "given": person.given,
        "birth_date": person.birth_date or "",
        "sex": person.sex,
        "address": person.address,
    }


def _fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in plain.upper() if c.isalpha())


def _same_person(current: dict[str, Any], person: PatientRecord) -> bool:
    """Whether what was sent agrees with the stored patient: surname, birth date and sex, where both have them."""
    pairs = (
        (_fold(current["family"]), _fold(person.family)),
        (current["birth_date"], person.birth_date or ""),
        (current["sex"].upper(), person.sex.upper()),
    )
    return all(not a or not b or a == b for a, b in pairs)


def _identifier_row(ident: Identifier) -> dict[str, Any]:
    return {
        "value": ident.value,
        "type_code": ident.type_code,
        "authority": ident.authority,
        "authority_oid": ident.authority_oid,
        "is_nam": ident.is_nam,
    }
