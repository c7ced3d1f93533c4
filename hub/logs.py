"""structlog set-up: JSON lines with channel, peer, control_id and status; never a body.

Twisted's own log (twisted.logger: listening ports, unhandled errors in Deferreds, connection
lost reasons) is routed into the same JSON stream by `route_twisted`, so that an error raised
inside Twisted reaches the log an operator watches. A failure is logged by its type and the
place it was raised, never by its text: an exception's message can hold message content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any

import structlog
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogBeginner
from zope.interface import provider  # type: ignore[import-untyped]

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_TEXT_CAP = 200  # characters of a Twisted event's text kept in the log


CONTROL_ID_CAP = 40  # characters of an MSH-10 a log line keeps


def short_id(control_id: str) -> str:
    """An MSH-10 as a log line shows it: at most CONTROL_ID_CAP characters, then "…"."""
    return control_id if len(control_id) <= CONTROL_ID_CAP else control_id[:CONTROL_ID_CAP] + "…"


def configure(level: str = "info") -> None:
    """JSON to standard error, one event per line."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=_safe_logger,
        cache_logger_on_first_use=True,
    )


class SafePrintLogger(structlog.PrintLogger):
    """A PrintLogger that never raises: a full disk or a closed stderr must not stop the writer."""

    def msg(self, message: str) -> None:
        """Write one line in one write(2), so the lines of `--workers` processes never interleave.

        A line the stream refuses is dropped.
        """
        data = (message + "\n").encode("utf-8")
        with contextlib.suppress(OSError, ValueError):  # ENOSPC, EPIPE, or a closed file
            try:
                fd = self._file.fileno()
            except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
                self._file.write(message + "\n")
                self._file.flush()
                return
            os.write(fd, data)

    log = debug = info = warn = warning = error = critical = exception = failure = fatal = msg


def _safe_logger(*_args: Any) -> SafePrintLogger:
    return SafePrintLogger(sys.stderr)


@provider(ILogObserver)  # type: ignore[untyped-decorator]
def twisted_observer(event: dict[str, Any]) -> None:
    """One twisted.logger event as a structlog event named ``twisted``."""
    log = structlog.get_logger("passerelle.twisted")
    level: Any = event.get("log_level", LogLevel.info)
    fields: dict[str, Any] = {"namespace": str(event.get("log_namespace", ""))}
    failure = event.get("log_failure")
    if failure is not None:
        tb = getattr(failure, "tb", None)
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        fields["error"] = getattr(failure.type, "__name__", "error")
        fields["where"] = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
        log.error("twisted", **fields)
        return
    fields["text"] = (formatEvent(event) or "")[:_TEXT_CAP]
    if level in (LogLevel.error, LogLevel.critical):
        log.error("twisted", **fields)
    elif level == LogLevel.warn:
        log.warning("twisted", **fields)
    elif level == LogLevel.info:
        log.info("twisted", **fields)
    else:
        log.debug("twisted", **fields)


def route_twisted() -> None:
    """Send Twisted's log events to structlog (once per process, before the reactor runs)."""
    globalLogBeginner.beginLoggingTo([twisted_observer], redirectStandardIO=False)
