"""Plain record values a mapping produces; hub/store.py turns them into rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.hl7 import Issue


@dataclass(frozen=True, slots=True)
class Identifier:
    """One PID-3 identifier (CX) with its assigning authority."""

    value: str
    type_code: str  # CX-5, e.g. MR, JHN, NAM
    authority: str  # CX-4.1 namespace, or CX-4.2 universal id when no namespace
    authority_oid: str  # CX-4.2 universal id
    is_nam: bool  # the RAMQ health insurance number


@dataclass(frozen=True, slots=True)
class Patient:
    """PID: identifiers and demographics as sent."""

    identifiers: tuple[Identifier, ...]
    family: str
    given: str
    birth_date: str | None  # ISO date, None when PID-7 is absent or invalid
    birth_date_raw: str
    sex: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One OBX: coded, typed and as sent."""

    key: str  # stable identity across result versions
    set_id: str
    value_type: str  # OBX-2
    code: str  # OBX-3.1
    code_text: str  # OBX-3.2
    code_system: str  # OBX-3.3
    alt_code: str  # OBX-3.4
    alt_code_system: str  # OBX-3.6
    sub_id: str  # OBX-4
    value_raw: str  # OBX-5 exactly as sent (escaped)
    value_text: str  # OBX-5 decoded for reading
    value_num: float | None  # OBX-5 as a number for NM/SN
    units: str  # OBX-6.1
    reference_range: str  # OBX-7
    abnormal_flags: str  # OBX-8, repetitions joined by "~"
    status: str  # OBX-11
    observed_at: str | None  # OBX-14, ISO
    performing_org: str  # OBX-23.1
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabOrder:
    """One OBR with its observations and notes."""

    key: str  # stable identity across result versions
    placer_number: str  # OBR-2.1 (or ORC-2)
    filler_number: str  # OBR-3.1 (or ORC-3)
    code: str  # OBR-4.1
    code_text: str  # OBR-4.2
    code_system: str  # OBR-4.3
    status: str  # OBR-25
    observed_at: str | None  # OBR-7
    reported_at: str | None  # OBR-22
    ordering_provider: str  # OBR-16 (or ORC-12)
    performing_org: str  # sending facility MSH-4.1
    observations: tuple[Observation, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one message maps to: its domain, patient, records and warnings."""

    domain: str
    patient: Patient
    lab_orders: tuple[LabOrder, ...] = ()
    warnings: tuple[Issue, ...] = field(default_factory=tuple)
