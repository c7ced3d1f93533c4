"""ORU^R01 (v2.3 to v2.5.1) -> lab orders, observations and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.hl7 import Code, ContentError, Header, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.errors import warning
from hub.hl7.message import part

from .common import person
from .patient import map_patient
from .records import LabOrder, Mapped, Observation

VERSIONS: frozenset[str] = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1"})


@dataclass(slots=True)
class _Group:
    """One OBR with the ORC before it and the OBX/NTE after it, while reading segments."""

    obr: Segment
    orc: Segment | None
    observations: list[tuple[Segment, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def map_oru_r01(msg: Message, header: Header) -> Mapped:
    """Map a lab result message.

    Raises:
        ContentError: AE 100 when no OBR is present (and what `map_patient` raises).
    """
    patient = map_patient(msg)
    groups: list[_Group] = []
    orc: Segment | None = None
    for seg in msg.segments:
        if seg.id == "ORC":
            orc = seg
        elif seg.id == "OBR":
            groups.append(_Group(seg, orc))
            orc = None
        elif seg.id == "OBX" and groups:
            groups[-1].observations.append((seg, []))
        elif seg.id == "NTE" and groups:
            group = groups[-1]
            (group.observations[-1][1] if group.observations else group.notes).append(_note(seg))
    if not groups:
        raise ContentError.at(Code.SEGMENT_SEQUENCE, Location("OBR", 1), "segment OBR manquant", "OBR segment missing")
    facility = part(header.sending_facility, header.d, 1)
    orders = tuple(_order(g, facility) for g in groups)
    warnings = [w for o in orders for obs in o.observations for w in _value_warnings(obs, msg)]
    return Mapped("lab", patient, orders, tuple(warnings))


def _order(group: _Group, facility: str) -> LabOrder:
    obr, orc = group.obr, group.orc
    placer = obr.value(2, 1) or (orc.value(2, 1) if orc else "")
    filler = obr.value(3, 1) or (orc.value(3, 1) if orc else "")
    filler_ns = obr.value(3, 2) or (orc.value(3, 2) if orc else "")
    if filler:  # OBR-3 filler order number: the IHE LAB correlation key
        key = f"{facility}|F|{filler}|{filler_ns}"
    elif placer:
        key = f"{facility}|P|{placer}|{obr.value(2, 2)}"
    else:
        key = f"{facility}|C|{obr.value(4, 1)}|{obr.value(7, 1)}"
    provider = obr.raw(16) or (orc.raw(12) if orc else "")
    seen: dict[str, int] = {}
    observations = tuple(_observation(obx, key, tuple(notes), seen) for obx, notes in group.observations)
    return LabOrder(
        key=key,
        placer_number=placer,
        filler_number=filler,
        code=obr.value(4, 1),
        code_text=obr.value(4, 2),
        code_system=obr.value(4, 3),
        status=obr.value(25),
        observed_at=to_iso(obr.value(7, 1)),
        reported_at=to_iso(obr.value(22, 1)),
        ordering_provider=person(provider, obr),
        performing_org=facility,
        observations=observations,
        notes=tuple(group.notes),
        section=obr.value(24),
    )


def _observation(obx: Segment, order_key: str, notes: tuple[str, ...], seen: dict[str, int]) -> Observation:
    d = obx.d
    value_type = obx.value(2)
    obx3 = obx.parts(3)  # OBX-3 split once: code, text, system, alternate code, text, system
    obx3 += [""] * (6 - len(obx3))
    code, code_text, system, alt_code, _alt_text, alt_system = obx3[:6]
    sub_id = obx.value(4)
    base = f"{order_key}|{system}|{code}|{sub_id}"
    seen[base] = seen.get(base, 0) + 1
    key = base if seen[base] == 1 else f"{base}#{seen[base]}"
    reps = obx.repetitions(5)
    text, number = _typed(value_type, reps, obx)
    return Observation(
        key=key,
        set_id=obx.value(1),
        value_type=value_type,
        code=code,
        code_text=code_text,
        code_system=system,
        alt_code=alt_code,
        alt_code_system=alt_system,
        sub_id=sub_id,
        value_raw=obx.raw(5),
        value_text=text,
        value_num=number,
        units=obx.value(6, 1),
        reference_range=obx.value(7),
        abnormal_flags="~".join(part(r, d, 1) for r in obx.repetitions(8)),
        status=obx.value(11),
        observed_at=to_iso(obx.value(14, 1)),
        performing_org=obx.value(23, 1),
        notes=notes,
    )


def _typed(value_type: str, reps: list[str], obx: Segment) -> tuple[str, float | None]:
    d = obx.d
    if value_type in ("CE", "CWE", "CNE", "CF"):
        texts = [part(r, d, 2) or part(r, d, 1) for r in reps]
        return "\n".join(texts), None
    if value_type == "SN":
        comparator, num1, sep, num2 = (part(reps[0], d, i) for i in (1, 2, 3, 4)) if reps else ("",) * 4
        text = f"{comparator}{num1}{sep}{num2}"
        number = _float(num1) if not sep and not comparator else None
        return text, number
    if value_type in ("NM",):
        text = part(reps[0], d, 1) if reps else ""
        return text, _float(text)
    if value_type in ("ST", "TX", "FT"):
        return "\n".join(obx.value(5, 1, 1, i + 1) for i in range(len(reps))), None
    return "\n".join(part(r, d, 1) for r in reps), None


def _float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _value_warnings(obs: Observation, msg: Message) -> list[Issue]:
    if obs.value_type == "NM" and obs.value_raw and obs.value_num is None:
        seq = next((s.sequence for s in msg.all("OBX") if s.value(1) == obs.set_id and s.raw(5) == obs.value_raw), None)
        return [
            warning(
                Code.DATA_TYPE,
                Location("OBX", seq, 5),
                "valeur NM non numérique",
                "NM value is not numeric",
                "lab.nm",
            )
        ]
    return []


def _note(nte: Segment) -> str:
    return "\n".join(nte.value(3, 1, 1, i + 1) for i in range(len(nte.repetitions(3))))
