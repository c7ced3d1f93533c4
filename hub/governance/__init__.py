"""Who may send and what was done: partners, the link policy, the partner directory, the journal."""

from .directory import PartnerDirectory, Ruling
from .journal import ChainWriter, verify
from .limiter import RefusalLimiter
from .partners import PartnerSpec, change_state, import_specs, issue_certificate, list_partners
from .policy import LinkPolicy, in_force, load_policies

__all__ = [
    "ChainWriter",
    "LinkPolicy",
    "PartnerDirectory",
    "PartnerSpec",
    "RefusalLimiter",
    "Ruling",
    "change_state",
    "import_specs",
    "in_force",
    "issue_certificate",
    "list_partners",
    "load_policies",
    "verify",
]
