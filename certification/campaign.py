"""Certification campaigns: a vendor's recorded traffic run against a versioned test plan.

The hub's own pipeline judges each message (decode, parse, header, rule set, mapping) in a
certification context, and nothing is stored in the clinical repository: a campaign only
reads messages and writes a report (and, when every scenario passes, a certificate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from hub.hl7 import Issue, Message

PLANS = Path(__file__).parent / "plans"


class Step(BaseModel):
    """What one vendor message must show, and what the hub must answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: dict[str, str] = {}
    non_ascii: bool = False
    answer: Literal["AA", "AE", "AR"] = "AA"


class Scenario(BaseModel):
    """One scenario of a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    same_order: bool = False
    steps: tuple[Step, ...]


class TestPlan(BaseModel):
    """A versioned test plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: str
    ruleset: str
    validity_days: int = 730
    scenarios: tuple[Scenario, ...]

    @property
    def name(self) -> str:
        """``id-version``."""
        return f"{self.id}-{self.version}"


def load_plan(path_or_name: str) -> TestPlan:
    """A plan from a file path, or by name from certification/plans/."""
    path = Path(path_or_name)
    if not path.is_file():
        path = PLANS / f"{path_or_name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PLANS.glob("*.yaml")))
        raise FileNotFoundError(f"no test plan {path_or_name!r} (known: {known})")
    return TestPlan.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Judged:
    """The hub's verdict on one vendor message."""

    source: str  # file#n
    control_id: str
    answer: str  # AA, AE or AR
    issues: tuple[Issue, ...]
    message: Message | None
    raw_text: str  # decoded text, for showing violations beside their segment
    non_ascii: bool
    order_keys: tuple[str, ...] = ()


@dataclass
class StepResult:
    """One step against the message that played it."""

    step: int
    source: str
    passed: bool
    problems: list[str]
    judged: Judged | None


@dataclass
class ScenarioResult:
    """One scenario's outcome."""

    scenario: Scenario
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """All steps played and passed."""
        return bool(self.steps) and all(s.passed for s in self.steps)


@dataclass
class CampaignResult:
    """The whole run."""

    plan: TestPlan
    vendor: str
    product: str
    version: str
    scenarios: list[ScenarioResult]
    unmatched: list[Judged]

    @property
    def passed(self) -> bool:
        """Every scenario passed."""
        return all(s.passed for s in self.scenarios)


def scenario_of(plan: TestPlan, source: str, control_id: str) -> str | None:
    """The scenario a message plays: its id in the file name, else at the start of MSH-10."""
    name = Path(source.split("#", maxsplit=1)[0]).name.upper()
    for scenario in plan.scenarios:
        if scenario.id.upper() in name or control_id.upper().startswith(scenario.id.upper()):
            return scenario.id
    return None


def _field(msg: Message, path: str) -> str:
    """A plan's field path: ``SEG-N`` (first component) or ``SEG-N.C``; MSH-9 reads code^event."""
    seg_id, _, where = path.partition("-")
    num, _, comp = where.partition(".")
    seg = msg.first(seg_id)
    if seg is None:
        return ""
    raw = seg.raw(int(num))
    if seg_id == "MSH" and num == "9" and not comp:
        return "^".join(raw.split(msg.d.component)[:2])
    return seg.value(int(num), int(comp or 1))


def _check_step(step: Step, judged: Judged) -> list[str]:
    problems = []
    if judged.answer != step.answer:
        detail = "; ".join(f"{i.location} {i.code.value} {i.text_en}" for i in judged.issues if i.severity == "E")
        problems.append(
            f"hub answered {judged.answer}, scenario expects {step.answer}" + (f": {detail}" if detail else "")
        )
    if judged.message is not None:
        for path, expected in step.fields.items():
            actual = _field(judged.message, path)
            if actual != expected:
                problems.append(f"{path} is {actual!r}, scenario expects {expected!r}")
    if step.non_ascii and not judged.non_ascii:
        problems.append("the message holds no accented text")
    return problems


def run_campaign(
    plan: TestPlan,
    judged: Iterable[Judged],
    who: tuple[str, str, str],
    progress: Callable[[int], None] = lambda n: None,
) -> CampaignResult:
    """Match judged messages to scenarios and check every step (vendor, product, version in `who`)."""
    by_scenario: dict[str, list[Judged]] = {s.id: [] for s in plan.scenarios}
    unmatched: list[Judged] = []
    for item in judged:
        sid = scenario_of(plan, item.source, item.control_id)
        if sid is None:
            unmatched.append(item)
        else:
            by_scenario[sid].append(item)
        progress(1)
    results = []
    for scenario in plan.scenarios:
        played = by_scenario[scenario.id]
        result = ScenarioResult(scenario)
        for n, step in enumerate(scenario.steps, start=1):
            if n > len(played):
                result.steps.append(StepResult(n, "", False, ["no message plays this step"], None))
                continue
            item = played[n - 1]
            problems = _check_step(step, item)
            result.steps.append(StepResult(n, item.source, not problems, problems, item))
        if scenario.same_order and len({k for j in played for k in j.order_keys}) > 1:
            result.steps[-1].problems.append("the steps do not carry the same order (OBR-3)")
            result.steps[-1].passed = False
        results.append(result)
    vendor, product, version = who
    return CampaignResult(plan, vendor, product, version, results, unmatched)
