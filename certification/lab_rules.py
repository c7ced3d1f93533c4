"""Lab rules over OBX: coded OBX-3, OBX-5 agreeing with OBX-2, NM units, OBX-11 in table 0085."""

from __future__ import annotations

import re

from hub.hl7 import Code, Issue, Location, Message, Segment
from hub.hl7.dtm import to_iso
from hub.hl7.message import part

from .context import Context

# -- lab -----------------------------------------------------------------------------------
LOINC_SYSTEMS = frozenset({"LN", "LNC", "LOINC", "PCLOCD", "2.16.840.1.113883.2.20.5.1"})
TABLE_0085 = frozenset("CDFINOPRSUWX")


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_SN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)?")


def _lab_obx(msg: Message, ctx: Context) -> list[Issue]:
    """The four lab rules in one pass over the OBX segments (shared: each issue names its rule).

    Each OBX field is split once here, where four separate passes would split it four times.
    """
    out: list[Issue] = []
    for obx in msg.segments:
        if obx.id == "OBX":
            _one_obx(obx, out)
    return out


def _one_obx(obx: Segment, out: list[Issue]) -> None:
    fields, d, seq = obx.fields, obx.d, obx.sequence
    count = len(fields)
    value_type = obx.value(2)
    # lab.obx3-coded: coding system in component 3, else in the alternate component 6
    comps = (fields[3] if count > 3 else "").split(d.repetition, 1)[0].split(d.component)
    systems = {part(c, d, 1).upper() for c in comps[2:3] + comps[5:6]}
    if not systems & LOINC_SYSTEMS:
        out.append(
            _rule_issue(
                Code.TABLE_VALUE_NOT_FOUND,
                Location("OBX", seq, 3),
                ("OBX-3 doit être codé LOINC ou pCLOCD", "OBX-3 must be coded in LOINC or pCLOCD"),
                "lab.obx3-coded",
            )
        )
    # lab.value-type and lab.nm-units: only where OBX-5 holds something
    if count > 5 and fields[5]:
        if not _agrees(obx, value_type):
            texts = (f"OBX-5 ne correspond pas à OBX-2 {value_type}", f"OBX-5 does not match OBX-2 {value_type}")
            out.append(_rule_issue(Code.DATA_TYPE, Location("OBX", seq, 5), texts, "lab.value-type"))
        if value_type == "NM" and not obx.value(6, 1):
            texts = ("unités OBX-6 manquantes", "OBX-6 units missing")
            out.append(_rule_issue(Code.REQUIRED_FIELD_MISSING, Location("OBX", seq, 6), texts, "lab.nm-units"))
    # lab.obx11-status
    if obx.value(11) not in TABLE_0085:
        texts = ("OBX-11 hors table 0085", "OBX-11 not in table 0085")
        out.append(_rule_issue(Code.TABLE_VALUE_NOT_FOUND, Location("OBX", seq, 11), texts, "lab.obx11-status"))


def _rule_issue(code: Code, loc: Location, texts: tuple[str, str], rule: str) -> Issue:
    return Issue(code, loc, texts[0], texts[1], rule=rule)


def _agrees(obx: Segment, value_type: str) -> bool:
    """Whether OBX-5 (present) is a value of the type OBX-2 declares."""
    if value_type == "NM":
        return _NUMBER.fullmatch(obx.value(5, 1).strip()) is not None
    if value_type == "SN":
        return _SN_NUMBER.fullmatch(obx.value(5, 2).strip()) is not None
    if value_type in ("DT", "TS", "DTM"):
        return to_iso(obx.value(5, 1)) is not None
    if value_type in ("CE", "CWE", "CNE"):
        return bool(obx.value(5, 1) or obx.value(5, 4))
    return True
