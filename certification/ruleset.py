"""Rule sets as versioned YAML: profile constraints per message type plus named domain rules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from hub.hl7 import Header, Issue, Message

from .conformance import validate_structure
from .constraints import FieldCheck, index
from .constraints import check as check_profile
from .rules import RULES, Context
from .transitions import DESCRIPTIONS as STATEFUL
from .transitions import StatusTransitionRule

RULESETS = Path(__file__).parent / "rulesets"


class FieldConstraint(BaseModel):
    """One field of a conformance profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    usage: Literal["R", "RE", "O", "X"] = "O"
    cardinality: tuple[int, int] | None = None
    length: int | None = None
    values: frozenset[str] | None = None


class MessageProfile(BaseModel):
    """The constraints for one message type."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: dict[str, FieldConstraint] = {}

    _index: dict[str, list[FieldCheck]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index the constraints by segment ID once, as the compiled checker reads them."""
        self._index.update(
            index(FieldCheck(path, c.usage, c.cardinality, c.length, c.values) for path, c in self.fields.items())
        )

    def by_segment(self) -> dict[str, list[FieldCheck]]:
        """The constraints indexed by segment ID."""
        return self._index

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: dict[str, FieldConstraint]) -> dict[str, FieldConstraint]:
        for path in value:
            seg, _, num = path.partition("-")
            if len(seg) != 3 or not num.isdigit():
                raise ValueError(f"field path {path!r} is not like PID-3")
        return value


class RuleRef(BaseModel):
    """A domain rule the set applies, and at which severity."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    severity: Literal["E", "W"] = "E"

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in RULES and value not in STATEFUL:
            raise ValueError(f"unknown rule {value!r}")
        return value


class RuleSet(BaseModel):
    """A versioned rule set."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: str
    domain: str
    structure: bool = True
    messages: dict[str, MessageProfile] = Field(default_factory=dict)
    rules: tuple[RuleRef, ...] = ()
    # How many of PID-5 (surname, given initial), PID-7 and PID-8 a NAM may contradict before
    # the patient register holds the message as unresolved instead of filing it under the NAM.
    nam_tolerance: int = Field(default=1, ge=0, le=4)

    @property
    def name(self) -> str:
        """``id-version``, as channels name it."""
        return f"{self.id}-{self.version}"

    def applies(self, rule_id: str) -> bool:
        """Whether the set names this rule."""
        return any(ref.id == rule_id for ref in self.rules)

    def transition_rule(self) -> StatusTransitionRule | None:
        """The stateful status-transition rule with this set's severities, or None if it names neither."""
        severities = {ref.id: ref.severity for ref in self.rules if ref.id in STATEFUL}
        return StatusTransitionRule(severities) if severities else None

    def validate_message(self, msg: Message, header: Header, ctx: Context) -> list[Issue]:
        """Every violation: structure, then profile, then domain rules."""
        issues: list[Issue] = []
        if self.structure:
            issues.extend(validate_structure(msg, header.version))
        profile = self.messages.get(header.message_type)
        if profile is not None:
            issues.extend(check_profile(msg, profile.by_segment()))
        passes: dict[Any, list[Issue]] = {}  # a pass shared by several rules runs once
        for ref in self.rules:
            rule = RULES.get(ref.id)
            if rule is None:
                continue
            found = passes.get(rule.check)
            if found is None:
                found = rule.check(msg, ctx)
                if rule.shared:
                    passes[rule.check] = found
            issues.extend(rule.pick(found, ref.severity))
        return _dedupe(issues)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    """One ERR per (location, code): the structure and a rule may see the same problem."""
    seen: set[tuple[str, int]] = set()
    out = []
    for issue in issues:
        key = (str(issue.location), issue.code.value)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out


@dataclass(frozen=True, slots=True)
class RuleSetError(Exception):
    """A rule set file that can't be used; the text names the file and the problem."""

    text: str

    def __str__(self) -> str:
        return self.text


def current_ruleset(domain: str) -> str:
    """The newest ``tgv-<domain>-<version>`` rule set shipped, e.g. tgv-lab-2026.1 for "lab"."""
    names = sorted(p.stem for p in RULESETS.glob(f"tgv-{domain}-*.yaml"))
    if not names:
        raise RuleSetError(f"no rule set for domain {domain!r} in {RULESETS}")
    return max(names, key=lambda n: tuple(int(x) if x.isdigit() else 0 for x in n.rsplit("-", 1)[1].split(".")))


@cache
def load_ruleset(name: str) -> RuleSet:
    """The rule set ``id-version`` from certification/rulesets/, or a rule set file's path.

    Raises:
        RuleSetError: no such file, or an invalid one.
    """
    path = Path(name) if name.endswith((".yaml", ".yml")) else RULESETS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RULESETS.glob("*.yaml")))
        raise RuleSetError(f"unknown rule set {name!r} (known: {known})")
    try:
        return RuleSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as exc:
        raise RuleSetError(f"{path.name}: {exc}") from None
