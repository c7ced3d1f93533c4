"""What a domain rule is and what it may know besides the message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.hl7 import Code, Issue, Location, Message


@dataclass(frozen=True, slots=True)
class Context:
    """What rules may know besides the message."""

    now: datetime
    certification: bool = False  # a certification channel (MSH-11 T) rather than production (P)
    tolerance: timedelta = timedelta(hours=1)


Check = Callable[[Message, Context], list[Issue]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A domain rule: what it checks and where the requirement comes from."""

    id: str
    description: str
    reference: str
    check: Check
    shared: bool = False  # `check` is one pass serving several rules; each issue names its rule

    def __call__(self, msg: Message, ctx: Context, severity: str = "E") -> list[Issue]:
        """Run the check; issues take the rule's id and the rule set's severity."""
        return self.pick(self.check(msg, ctx), severity)

    def pick(self, found: list[Issue], severity: str) -> list[Issue]:
        """This rule's issues among what its check found, at `severity`."""
        if self.shared:
            return [replace(i, severity=severity) for i in found if i.rule == self.id]
        return [replace(i, severity=severity, rule=self.id) for i in found]


def issue(code: Code, loc: Location, fr: str, en: str) -> Issue:
    """An issue a rule found; the rule set gives it its severity and the rule its id."""
    return Issue(code, loc, fr, en)
