"""``/metrics``, ``/healthz`` and ``/readyz``: GET only, no body read, nothing about patients.

``/healthz`` answers 200 while the writer thread runs (503 once it died: the process is to be
restarted); ``/readyz`` 200 while the database answers a query (503 while it doesn't: take the
hub out of rotation, it will come back).
"""

from __future__ import annotations

from typing import Any

from twisted.web import http, server
from twisted.web.resource import Resource

from hub.interfaces import HealthHandler


def _text(request: Any, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8") -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"cache-control", b"no-store")
    return body


class _Metrics(Resource):
    isLeaf = True  # noqa: N815 - the name twisted.web reads

    def __init__(self, handler: HealthHandler) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.handler = handler

    def render_GET(self, request: Any) -> bytes:
        body, content_type = self.handler.metrics()
        return _text(request, http.OK, body, content_type.encode("ascii"))


class _Alive(_Metrics):
    def render_GET(self, request: Any) -> bytes:
        if self.handler.alive():
            return _text(request, http.OK, b"ok\n")
        return _text(request, http.SERVICE_UNAVAILABLE, b"writer stopped / le scripteur est arrete\n")


class _Ready(_Metrics):
    def render_GET(self, request: Any) -> Any:
        def answer(ready: bool) -> None:
            if request.finished or getattr(request, "_disconnected", False):
                return
            if ready:
                request.write(_text(request, http.OK, b"ok\n"))
            else:
                request.write(_text(request, http.SERVICE_UNAVAILABLE, b"database unreachable / base injoignable\n"))
            request.finish()

        self.handler.ready().addCallback(answer)
        return server.NOT_DONE_YET


def site(handler: HealthHandler, timeout: float) -> Any:
    """The twisted.web Site: the three paths, 404 elsewhere, 405 for other verbs."""
    web: Any = server  # twisted.web has no type hints
    root: Any = Resource()  # type: ignore[no-untyped-call]
    root.putChild(b"metrics", _Metrics(handler))
    root.putChild(b"healthz", _Alive(handler))
    root.putChild(b"readyz", _Ready(handler))
    factory = web.Site(root, timeout=timeout)
    factory.displayTracebacks = False
    return factory
