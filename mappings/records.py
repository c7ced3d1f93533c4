"""Plain record values a mapping produces; hub/store/rows.py turns them into rows.

Not ``frozen``: a frozen dataclass sets each field through ``object.__setattr__``, and in this
mypyc-compiled module that made building one Observation 5.1 µs against 0.7 µs. Nothing
mutates or hashes a record once it has left the pipeline (hub/engine/scope.py settles the
identifiers of a message's fresh records in place); `dataclasses.replace` makes a changed copy
(mappings/exclusions.py).

The records built for every message (`init=False` below) write their own ``__init__``: the one
`dataclass` generates stays interpreted Python even in the compiled module, where mypyc compiles
a written one to direct slot stores (an Observation: ~9,100 instructions to build, against ~900).
tests/mappings/test_records.py holds each to its fields: the same names, order and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.hl7 import Issue


@dataclass(slots=True, init=False)
class Identifier:
    """One PID-3 identifier (CX) with its assigning authority."""

    value: str
    type_code: str  # CX-5, e.g. MR, JHN, NAM
    authority: str  # CX-4.1 namespace, or CX-4.2 universal id when no namespace
    authority_oid: str  # CX-4.2 universal id
    is_nam: bool  # the RAMQ health insurance number
    repetition: int = 1  # which PID-3 (or MRG-1) repetition it is, for an ERR that names it

    def __init__(  # noqa: PLR0917 - the fields in order, as the generated one takes them
        self, value: str, type_code: str, authority: str, authority_oid: str, is_nam: bool, repetition: int = 1
    ) -> None:
        self.value = value
        self.type_code = type_code
        self.authority = authority
        self.authority_oid = authority_oid
        self.is_nam = is_nam
        self.repetition = repetition


@dataclass(slots=True, init=False)
class Patient:
    """PID: identifiers and demographics as sent."""

    identifiers: tuple[Identifier, ...]
    family: str
    given: str
    birth_date: str | None  # ISO date, None when PID-7 is absent or invalid
    birth_date_raw: str
    sex: str
    address: str = ""  # PID-11, first repetition, components joined
    nam_doubtful: bool = False  # its NAM disagrees with PID-5/7/8 beyond the rule set's tolerance

    def __init__(  # noqa: PLR0917 - the fields in order, as the generated one takes them
        self,
        identifiers: tuple[Identifier, ...],
        family: str,
        given: str,
        birth_date: str | None,
        birth_date_raw: str,
        sex: str,
        address: str = "",
        nam_doubtful: bool = False,
    ) -> None:
        self.identifiers = identifiers
        self.family = family
        self.given = given
        self.birth_date = birth_date
        self.birth_date_raw = birth_date_raw
        self.sex = sex
        self.address = address
        self.nam_doubtful = nam_doubtful


@dataclass(slots=True, init=False)
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

    def __init__(  # noqa: PLR0917 - the fields in order, as the generated one takes them
        self,
        key: str,
        set_id: str,
        value_type: str,
        code: str,
        code_text: str,
        code_system: str,
        alt_code: str,
        alt_code_system: str,
        sub_id: str,
        value_raw: str,
        value_text: str,
        value_num: float | None,
        units: str,
        reference_range: str,
        abnormal_flags: str,
        status: str,
        observed_at: str | None,
        performing_org: str,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.key = key
        self.set_id = set_id
        self.value_type = value_type
        self.code = code
        self.code_text = code_text
        self.code_system = code_system
        self.alt_code = alt_code
        self.alt_code_system = alt_code_system
        self.sub_id = sub_id
        self.value_raw = value_raw
        self.value_text = value_text
        self.value_num = value_num
        self.units = units
        self.reference_range = reference_range
        self.abnormal_flags = abnormal_flags
        self.status = status
        self.observed_at = observed_at
        self.performing_org = performing_org
        self.notes = notes


@dataclass(slots=True, init=False)
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
    section: str = ""  # OBR-24 diagnostic service section: what exclusions match besides the code

    def __init__(  # noqa: PLR0917 - the fields in order, as the generated one takes them
        self,
        key: str,
        placer_number: str,
        filler_number: str,
        code: str,
        code_text: str,
        code_system: str,
        status: str,
        observed_at: str | None,
        reported_at: str | None,
        ordering_provider: str,
        performing_org: str,
        observations: tuple[Observation, ...],
        notes: tuple[str, ...] = (),
        section: str = "",
    ) -> None:
        self.key = key
        self.placer_number = placer_number
        self.filler_number = filler_number
        self.code = code
        self.code_text = code_text
        self.code_system = code_system
        self.status = status
        self.observed_at = observed_at
        self.reported_at = reported_at
        self.ordering_provider = ordering_provider
        self.performing_org = performing_org
        self.observations = observations
        self.notes = notes
        self.section = section


@dataclass(slots=True)
class MedicationEvent:
    """One pharmacy event on one prescription: ordered (RDE), dispensed (RDS), administered (RAS)."""

    key: str  # the prescription's identity across events (placer or filler order number)
    kind: str  # order, dispense, administration
    order_control: str  # ORC-1: NW new, CA cancel, DC discontinue, XO change, RF refill...
    status: str  # what the event makes of the prescription: active, dispensed, administered, cancelled...
    drug_code: str  # kept as text: a DIN keeps its leading zeros
    drug_system: str  # the coding system as sent (DIN, NDC, ATC...)
    drug_name: str
    drug_recognized: bool  # the coding system is one the repository recognizes (DIN)
    strength: str  # value and units, e.g. "500 mg"
    form: str
    route: str
    dose: str  # value and units per administration
    quantity: str  # dispensed or to dispense, with units
    refills: str
    prescriber: str
    pharmacy: str  # the dispensing pharmacy
    occurred_at: str | None  # ISO: the order, dispense or administration date
    prescription_number: str
    section: str = ""  # unused in pharmacy; exclusions match on codes
    notes: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The code exclusions match on."""
        return self.drug_code


@dataclass(slots=True)
class ImagingOrder:
    """One imaging order (OMI^O23, ORM^O01): what links it to its study and its report."""

    key: str
    order_control: str  # ORC-1
    order_status: str  # ORC-5
    placer_number: str
    filler_number: str
    accession: str  # IPC-1, else OBR-18
    requested_procedure_id: str  # IPC-2, else OBR-19
    study_uid: str  # IPC-3, else ZDS-1
    scheduled_step_id: str  # IPC-4, else OBR-20
    modality: str  # IPC-5, else OBR-24
    code: str  # OBR-4.1 (else IPC-6.1)
    code_text: str
    code_system: str
    ordered_at: str | None
    ordering_provider: str
    section: str = ""  # OBR-24 diagnostic service section


@dataclass(slots=True)
class Document:
    """An encapsulated document (OBX ED): kept as bytes with its hash, within a size cap."""

    media_type: str  # e.g. application/pdf
    encoding: str  # Base64, as sent
    sha256: str
    size: int
    data: bytes
    obx_sequence: int  # where it came from: the channel's size cap answers at OBX^n^5


@dataclass(slots=True)
class ImagingReport:
    """One version of a radiology report (ORU^R01 on an imaging channel)."""

    key: str
    placer_number: str
    filler_number: str
    accession: str  # OBR-18 (IHE RAD), else IPC-1 when present
    study_uid: str  # OBX 113014^DICOM Study, else ZDS-1
    code: str  # OBR-4 procedure
    code_text: str
    code_system: str
    status: str  # OBR-25: P preliminary, F final, C corrected, A amended (some results)...
    observed_at: str | None
    reported_at: str | None
    text: str  # TX/FT/ST values, escapes decoded, one line per repetition or segment
    findings: tuple[tuple[str, str, str], ...] = ()  # coded results: (code, system, value text)
    documents: tuple[Document, ...] = ()
    section: str = ""


@dataclass(slots=True, init=False)
class Provider:
    """A practitioner named in a message (XCN): where, as sent, and the licence it carries."""

    field: str  # e.g. OBR-16
    sent: str  # the first repetition as sent (escaped)
    licence: str  # XCN-1
    order: str  # XCN-9.1, the assigning authority (CMQ, OPQ...), "" when absent

    def __init__(self, field: str, sent: str, licence: str, order: str) -> None:
        self.field = field
        self.sent = sent
        self.licence = licence
        self.order = order


@dataclass(slots=True, init=False)
class Mapped:
    """What one message maps to: its domain, patient, records and warnings."""

    domain: str
    patient: Patient
    lab_orders: tuple[LabOrder, ...] = ()
    warnings: tuple[Issue, ...] = ()
    medications: tuple[MedicationEvent, ...] = ()
    imaging_orders: tuple[ImagingOrder, ...] = ()
    imaging_reports: tuple[ImagingReport, ...] = ()
    filtered_by: tuple[str, ...] = ()  # exclusion rules that removed records from this message
    providers: tuple[Provider, ...] = ()  # practitioners the message names (OBR-16, ORC-12, RXE-13, PV1-7/8)
    merged: tuple[Identifier, ...] = ()  # ADT^A40: MRG-1, the identifiers of the patient merged away

    def __init__(  # noqa: PLR0917 - the fields in order, as the generated one takes them
        self,
        domain: str,
        patient: Patient,
        lab_orders: tuple[LabOrder, ...] = (),
        warnings: tuple[Issue, ...] = (),
        medications: tuple[MedicationEvent, ...] = (),
        imaging_orders: tuple[ImagingOrder, ...] = (),
        imaging_reports: tuple[ImagingReport, ...] = (),
        filtered_by: tuple[str, ...] = (),
        providers: tuple[Provider, ...] = (),
        merged: tuple[Identifier, ...] = (),
    ) -> None:
        self.domain = domain
        self.patient = patient
        self.lab_orders = lab_orders
        self.warnings = warnings
        self.medications = medications
        self.imaging_orders = imaging_orders
        self.imaging_reports = imaging_reports
        self.filtered_by = filtered_by
        self.providers = providers
        self.merged = merged

    def records(self) -> tuple[object, ...]:
        """Every clinical record the message carries."""
        return (*self.lab_orders, *self.medications, *self.imaging_orders, *self.imaging_reports)
