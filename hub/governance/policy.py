"""The link policy: which partner categories may link, as versioned data with an effective date."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

CATEGORIES = ("government", "private-ramq", "private-msss-approved", "private-other", "insurer", "data-vault")
Rule = Literal["allow", "certified", "refuse", "cut"]
POLICY_FILE = Path(__file__).parent / "policies" / "links.yaml"


class LinkPolicy(BaseModel):
    """One version of the policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    effective: date
    source: str = ""
    categories: dict[str, Rule]

    def rule(self, category: str) -> Rule:
        """The rule for a category; an unknown category is refused."""
        return self.categories.get(category, "refuse")


def load_policies(path: Path = POLICY_FILE) -> list[LinkPolicy]:
    """Every version in the file, oldest first."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return sorted((LinkPolicy.model_validate(item) for item in data), key=lambda p: p.effective)


def in_force(policies: list[LinkPolicy], today: date) -> LinkPolicy:
    """The newest version whose effective date has passed.

    Raises:
        LookupError: no version is in force yet (nothing may link).
    """
    current = [p for p in policies if p.effective <= today]
    if not current:
        raise LookupError("no link policy in force")
    return current[-1]
