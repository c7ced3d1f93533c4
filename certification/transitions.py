"""The one stateful rule: result and report statuses move forward, checked against the repository.

``lab.status-transition`` (OBR-25 and OBX-11) and ``imaging.status-transition`` (OBR-25 of a
report) compare each record's status with the latest one stored, or staged earlier in the same
batch, for the same record key. A final or corrected result (tables 0085 and 0123: F, C, D, U)
never goes back to a preliminary one (O, I, S, A, R, P, N). The writer gives the rule the
stored statuses inside its transaction; the rule answers with issues at the severity its rule
set names: ``E`` refuses the message (AE), ``W`` accepts it with a warning ERR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hub.hl7 import Code, Issue, Location
from mappings import Mapped

LAB = "lab.status-transition"
IMAGING = "imaging.status-transition"
RULE_IDS = (LAB, IMAGING)
DESCRIPTIONS: dict[str, str] = {
    LAB: "Result statuses move forward: final or corrected never goes back to preliminary",
    IMAGING: "Report statuses move forward: final or corrected never goes back to preliminary",
}

_BEFORE_FINAL = frozenset("OISARPN")
_FINAL = frozenset("FCDU")

# (table, record key) -> the latest status stored or staged for that key, "" when there is none
StatusLookup = Callable[[str, str], str]


def illegal_transition(previous: str, new: str) -> bool:
    """True when a result goes back from final (or corrected) to a preliminary status."""
    return previous in _FINAL and new in _BEFORE_FINAL


@dataclass(frozen=True, slots=True)
class StatusTransitionRule:
    """The status-transition checks a rule set applies, each at its severity ("E" or "W")."""

    severities: Mapping[str, str]

    def check(self, mapped: Mapped, latest: StatusLookup) -> tuple[Issue, ...]:
        """Every status of `mapped` that goes back against `latest`, at its rule's severity."""
        issues: list[Issue] = []
        lab = self.severities.get(LAB)
        if lab is not None:
            obx_seq = 0  # ERR-2 counts OBX segments across the message; set IDs restart under each OBR
            for n, order in enumerate(mapped.lab_orders, start=1):
                before = latest("lab_orders", order.key)
                if illegal_transition(before, order.status):
                    issues.append(_issue(Location("OBR", n, 25), before, order.status, LAB, lab))
                for obs in order.observations:
                    obx_seq += 1
                    before = latest("lab_observations", obs.key)
                    if illegal_transition(before, obs.status):
                        issues.append(_issue(Location("OBX", obx_seq, 11), before, obs.status, LAB, lab))
        imaging = self.severities.get(IMAGING)
        if imaging is not None:
            for n, report in enumerate(mapped.imaging_reports, start=1):
                before = latest("imaging_reports", report.key)
                if illegal_transition(before, report.status):
                    issues.append(_issue(Location("OBR", n, 25), before, report.status, IMAGING, imaging))
        return tuple(issues)


def _issue(loc: Location, before: str, after: str, rule: str, severity: str) -> Issue:
    return Issue(
        Code.TABLE_VALUE_NOT_FOUND,
        loc,
        f"statut {before} puis {after} : retour en arrière interdit",
        f"status {before} then {after}: going back is not allowed",
        severity,
        rule,
    )
