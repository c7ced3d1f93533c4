"""TGV-style certification: structure, domain rules, the stateful status-transition rule, rule sets, campaigns.

Imports `hub.hl7` and `mappings` only.
"""

from .campaign import TestPlan
from .ruleset import RuleSet, RuleSetError, load_ruleset
from .transitions import StatusTransitionRule

__all__ = ["RuleSet", "RuleSetError", "StatusTransitionRule", "TestPlan", "load_ruleset"]
