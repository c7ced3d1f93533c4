"""TGV-style certification rules, rule sets and campaigns.

Imports only `hub.hl7` and itself. The rule engine and rule sets arrive with the
certification issue; until then the pipeline's certify step has no rules to apply.
"""

__all__: list[str] = []
