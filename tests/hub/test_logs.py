"""Twisted's own log events reach the structlog stream, without the text of a failure."""

from __future__ import annotations

from structlog.testing import capture_logs
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from hub.logs import twisted_observer


def test_an_event_is_logged_with_its_level_and_text() -> None:
    """A warning from twisted.web becomes a `twisted` event at warning level, with Twisted's text."""
    event = {"log_level": LogLevel.warn, "log_namespace": "twisted.web", "log_format": "port {p} closed", "p": 1}
    with capture_logs() as logs:
        twisted_observer(event)
    (line,) = logs
    assert (line["event"], line["log_level"], line["text"], line["namespace"]) == (
        "twisted",
        "warning",
        "port 1 closed",
        "twisted.web",
    )


def test_a_failure_is_logged_by_type_and_place_never_by_its_text() -> None:
    """An unhandled error names its exception type and file:line; its message (maybe PHI) is left out."""
    try:
        raise ValueError("Lavoie^Hélène 1985")
    except ValueError:
        failure = Failure()  # type: ignore[no-untyped-call]
    event = {"log_level": LogLevel.critical, "log_namespace": "twisted.internet.defer", "log_failure": failure}
    with capture_logs() as logs:
        twisted_observer(event)
    (line,) = logs
    assert (line["log_level"], line["error"]) == ("error", "ValueError")
    assert str(line["where"]).startswith(__file__)
    assert "Lavoie" not in repr(line)
