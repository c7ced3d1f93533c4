"""The admin console: operators sign in, watch the hub and open what it did (pages on twisted.web)."""

from .app import Console
from .hooks import Campaigns, Hooks
from .oversight import Privacy

__all__ = ["Campaigns", "Console", "Hooks", "Privacy"]
