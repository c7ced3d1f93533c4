"""Which journal entries are security events, exported to the audit collector (IHE ATNA).

The classification reads only what the entry itself says (its status and decision), so the
journal writer can put the outbox row in the same transaction at no extra read:

- ``link-refused``: a link refused under the 2019 policy (MLLP, SOAP, DICOM);
- ``partner-cut``: a partner's links cut, by an admin or on arrival (insurers, data vaults);
- ``signin-failed``: a failed console sign-in (a known operator or an unknown name);
- ``account-locked``: an operator locked after repeated failures;
- ``consult-denied``: a consultation refused (signature, link, practitioner, purpose);
- ``emergency-access``: an emergency (ETREAT) consultation, which surveillance flags;
- ``journal-broken``: a verification of the chain that found a broken link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KINDS: dict[str, str] = {
    "refused": "link-refused",
    "partner.cut": "partner-cut",
    "operator.signin-fail": "signin-failed",
    "console.signin-fail": "signin-failed",
    "operator.locked": "account-locked",
    "consult.denied": "consult-denied",
    "consult.emergency": "emergency-access",
}


def security_kind(entry: Mapping[str, Any]) -> str | None:
    """The kind of security event this journal entry is, or None when it is not one."""
    status = entry.get("status", "")
    if status == "journal.verify":
        return "journal-broken" if entry.get("decision") == "broken" else None
    return KINDS.get(status)
