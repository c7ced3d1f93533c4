"""Pharmacy messages -> medication events: RDE (to be dispensed), RDS (dispensed), RAS (administered).

One message carries one or more ORC groups; each group becomes one event on one prescription.
The prescription's identity is its order number (ORC-2 placer, else ORC-3 filler, else the
prescription number), so an order, its dispenses and its cancellation line up in `show patient`.

Drug codes are kept as text with their coding system, so a DIN keeps its leading zeros. A code
in a system the repository does not recognize is stored, flagged, and warned (ERR severity W).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.hl7 import Code, ContentError, Header, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.errors import warning
from hub.hl7.message import part

from .common import person
from .patient import map_patient
from .records import Mapped, MedicationEvent

VERSIONS: frozenset[str] = frozenset(
    {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}
)

# Drug coding systems the repository recognizes: Health Canada's DIN, by name and OID.
DIN_SYSTEMS = frozenset({"DIN", "HC-DIN", "2.16.840.1.113883.5.1105"})

# ORC-1 order control -> what it makes of the prescription (HL7 table 0119).
_CONTROL_STATUS = {
    "CA": "cancelled",
    "OC": "cancelled",
    "CR": "cancelled",
    "DC": "discontinued",
    "OD": "discontinued",
    "DR": "discontinued",
    "HD": "on-hold",
    "OH": "on-hold",
    "RL": "active",
    "XO": "active",
    "XX": "active",
}
_KIND_STATUS = {"order": "active", "dispense": "dispensed", "administration": "administered"}

# (segment holding the drug, its code field) for each kind of event, most specific first.
_DRUG_SEGMENTS = {"order": ("RXE", "RXO"), "dispense": ("RXD", "RXE", "RXO"), "administration": ("RXA",)}
_CODE_FIELD = {"RXE": 2, "RXO": 1, "RXD": 2, "RXA": 5}


@dataclass(slots=True)
class _Group:
    """One ORC with the pharmacy segments after it."""

    orc: Segment | None
    segs: dict[str, list[Segment]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def first(self, seg_id: str) -> Segment | None:
        found = self.segs.get(seg_id)
        return found[0] if found else None


def kind_of(header: Header) -> str:
    """order, dispense or administration, from MSH-9."""
    return {"RDE": "order", "RDS": "dispense", "RAS": "administration"}[header.message_code]


def map_pharmacy(msg: Message, header: Header) -> Mapped:
    """Map RDE^O11/O01/O25, RDS^O13/O01 or RAS^O17/O01.

    Raises:
        ContentError: AE 100 when no ORC or no drug segment is present (and what `map_patient` raises).
    """
    patient = map_patient(msg)
    kind = kind_of(header)
    groups: list[_Group] = []
    for seg in msg.segments:
        if seg.id == "ORC":
            groups.append(_Group(seg))
        elif seg.id in ("RXO", "RXE", "RXD", "RXA", "RXR", "RXC", "TQ1"):
            if not groups:
                groups.append(_Group(None))
            groups[-1].segs.setdefault(seg.id, []).append(seg)
        elif seg.id == "NTE" and groups:
            groups[-1].notes.append(seg.value(3))
    facility = part(header.sending_facility, header.d, 1)
    events: list[MedicationEvent] = []
    warnings: list[Issue] = []
    for group in groups:
        drug = next((s for s in (group.first(x) for x in _DRUG_SEGMENTS[kind]) if s is not None), None)
        if drug is None:
            continue  # an ORC without a drug (e.g. a status-only group) carries nothing to store
        event = _event(group, drug, kind, facility, header)
        if not event.drug_recognized:
            warnings.append(
                warning(
                    Code.TABLE_VALUE_NOT_FOUND,
                    Location(drug.id, drug.sequence, _CODE_FIELD[drug.id]),
                    "code de médicament non reconnu (DIN attendu), conservé",
                    "drug code not recognized (DIN expected), kept",
                    "pharmacy.drug-code",
                )
            )
        events.append(event)
    if not events:
        wanted = _DRUG_SEGMENTS[kind][0]
        raise ContentError.at(
            Code.SEGMENT_SEQUENCE,
            Location(wanted, 1),
            f"segment {wanted} manquant",
            f"{wanted} segment missing",
        )
    return Mapped("pharmacy", patient, warnings=tuple(warnings), medications=tuple(events))


def _event(group: _Group, drug: Segment, kind: str, facility: str, header: Header) -> MedicationEvent:
    orc = group.orc
    rxe, rxo, rxd, rxa = (group.first(x) for x in ("RXE", "RXO", "RXD", "RXA"))
    rxr = group.first("RXR")
    n = _CODE_FIELD[drug.id]
    control = orc.value(1) if orc else ""
    placer = orc.value(2, 1) if orc else ""
    filler = orc.value(3, 1) if orc else ""
    number = (rxe.value(15) if rxe else "") or (rxd.value(7) if rxd else "")
    if placer:
        key = f"{facility}|P|{placer}|{orc.value(2, 2) if orc else ''}"
    elif filler:
        key = f"{facility}|F|{filler}|{orc.value(3, 2) if orc else ''}"
    elif number:
        key = f"{facility}|RX|{number}"
    else:
        key = f"{facility}|D|{drug.value(n, 1)}|{header.control_id}"
    system = drug.value(n, 3)
    code = drug.value(n, 1)
    status = _CONTROL_STATUS.get(control, _KIND_STATUS[kind])
    prescriber_raw = (orc.raw(12) if orc else "") or (rxe.raw(13) if rxe else "") or (rxo.raw(14) if rxo else "")
    return MedicationEvent(
        key=key,
        kind=kind,
        order_control=control,
        status=status,
        drug_code=code,
        drug_system=system,
        drug_name=drug.value(n, 2) or drug.value(n, 5) or drug.value(n, 9),
        drug_recognized=system.upper() in DIN_SYSTEMS,
        strength=_amount(rxe, 25, 26) or _amount(rxo, 18, 19) or _amount(group.first("RXC"), 3, 4),
        form=_coded(rxe, 6) or _coded(rxd, 6) or _coded(rxo, 5),
        route=_coded(rxr, 1),
        dose=_amount(rxe, 3, 5) or _amount(rxa, 6, 7) or _amount(rxo, 2, 4),
        quantity=_amount(rxd, 4, 5) or _amount(rxe, 10, 11) or _amount(rxo, 11, 12),
        refills=(rxe.value(12) if rxe else "") or (rxd.value(8) if rxd else "") or (rxo.value(13) if rxo else ""),
        prescriber=person(prescriber_raw, drug),
        pharmacy=_coded(rxe, 40) or (rxd.value(13, 1) if rxd else "") or (facility if kind == "dispense" else ""),
        occurred_at=_when(kind, orc=orc, rxe=rxe, rxd=rxd, rxa=rxa, tq1=group.first("TQ1")),
        prescription_number=number,
        notes=tuple(group.notes),
    )


def _amount(seg: Segment | None, value_field: int, units_field: int) -> str:
    """The value and its units, from a numeric field and its coded units field."""
    if seg is None or not seg.value(value_field):
        return ""
    units = seg.value(units_field, 1)
    if units.isdigit() and seg.value(units_field, 2):
        units = seg.value(units_field, 2)  # a numeric concept (SNOMED CT): its text reads better
    return f"{seg.value(value_field)} {units}".strip()


def _coded(seg: Segment | None, n: int) -> str:
    """A CE/CWE as its text, else its code."""
    if seg is None:
        return ""
    return seg.value(n, 2) or seg.value(n, 1)


def _when(
    kind: str,
    *,
    orc: Segment | None,
    rxe: Segment | None,
    rxd: Segment | None,
    rxa: Segment | None,
    tq1: Segment | None,
) -> str | None:
    """The event's date: dispensed (RXD-3), administered (RXA-3), else the order's (ORC-9, TQ1-7, RXE-1.4)."""
    candidates = {
        "dispense": [(rxd, 3, 1)],
        "administration": [(rxa, 3, 1)],
    }.get(kind, [])
    candidates += [(orc, 9, 1), (tq1, 7, 1), (rxe, 1, 4)]
    for seg, n, comp in candidates:
        if seg is not None and seg.value(n, comp):
            iso = to_iso(seg.value(n, comp))
            if iso:
                return iso
    return None
