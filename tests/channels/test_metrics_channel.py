"""The metrics channel's answers when the writer died or the database is down: 503, never a trace."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.web.test.requesthelper import DummyRequest

from channels.metrics import site


class FakeHealth:
    """A hub whose writer and database are as told."""

    def __init__(self, alive: bool, ready: bool) -> None:
        self._alive, self._ready = alive, ready

    def metrics(self) -> tuple[bytes, str]:
        """A one-line exposition."""
        return b"passerelle_up 1\n", "text/plain; version=0.0.4; charset=utf-8"

    def alive(self) -> bool:
        """As told."""
        return self._alive

    def ready(self) -> Deferred[bool]:
        """As told, at once."""
        return succeed(self._ready)


def _get(health: FakeHealth, path: bytes) -> tuple[int, bytes]:
    factory: Any = site(health, 10)
    request = DummyRequest([path])
    resource = factory.resource.getChildWithDefault(path, request)
    body = resource.render(request)
    if isinstance(body, bytes):
        request.write(body)  # type: ignore[no-untyped-call]
        request.finish()  # type: ignore[no-untyped-call]
    return request.responseCode or 200, b"".join(request.written)


def test_health_and_readiness_follow_the_writer_and_the_database() -> None:
    """Alive and ready: 200; writer stopped: /healthz 503; database down: /readyz 503; /metrics as given."""
    assert _get(FakeHealth(True, True), b"healthz") == (200, b"ok\n")
    assert _get(FakeHealth(True, True), b"readyz") == (200, b"ok\n")
    assert _get(FakeHealth(False, True), b"healthz")[0] == 503
    assert _get(FakeHealth(True, False), b"readyz")[0] == 503
    assert _get(FakeHealth(True, True), b"metrics") == (200, b"passerelle_up 1\n")
