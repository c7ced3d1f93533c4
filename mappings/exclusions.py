"""Exclusions: test or exam categories a domain does not communicate to the repository.

A rule matches a record by its code (``CODE`` or ``SYSTEM:CODE``, compared without case on
the system) or by its diagnostic service section (OBR-24). Matching records are removed from
what is stored; a message left with nothing is acknowledged AA and journaled as filtered,
naming the rule. Nothing of a filtered record reaches the clinical tables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .records import Mapped


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One exclusion rule of a channel."""

    id: str
    codes: frozenset[str] = frozenset()  # "CODE" or "SYSTEM:CODE" (system upper-cased)
    sections: frozenset[str] = frozenset()

    def matches(self, record: object) -> bool:
        """Whether the record falls in this category."""
        code = getattr(record, "code", "")
        system = str(getattr(record, "code_system", "") or getattr(record, "drug_system", "")).upper()
        if code and (code in self.codes or f"{system}:{code}" in self.codes):
            return True
        section = getattr(record, "section", "")
        return bool(section) and section in self.sections


def apply_exclusions(mapped: Mapped, rules: tuple[Exclusion, ...]) -> Mapped:
    """The mapped message without the excluded records; `filtered_by` names the rules that removed any."""
    if not rules:
        return mapped
    used: list[str] = []

    def keep(records: tuple[object, ...]) -> tuple[object, ...]:
        kept = []
        for record in records:
            rule = next((r for r in rules if r.matches(record)), None)
            if rule is None:
                kept.append(record)
            elif rule.id not in used:
                used.append(rule.id)
        return tuple(kept)

    result = replace(
        mapped,
        lab_orders=keep(mapped.lab_orders),  # type: ignore[arg-type]
        medications=keep(mapped.medications),  # type: ignore[arg-type]
        imaging_orders=keep(mapped.imaging_orders),  # type: ignore[arg-type]
        imaging_reports=keep(mapped.imaging_reports),  # type: ignore[arg-type]
    )
    return replace(result, filtered_by=tuple(used)) if used else mapped
