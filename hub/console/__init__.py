"""The admin console: operators sign in, watch the hub and open what it did (pages on twisted.web)."""

from .app import Console
from .oversight import Privacy

__all__ = ["Console", "Privacy"]
