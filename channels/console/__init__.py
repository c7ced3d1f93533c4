"""The admin console channel: HTML pages over twisted.web; the pages themselves are hub/console's."""

from .resource import site

__all__ = ["site"]
