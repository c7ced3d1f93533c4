"""Every console request, handed to the engine as a `WebRequest`: method, path, query, form, cookies.

The transport decides nothing: sessions, CSRF, roles and pages are hub/console's. A form body is
capped at 64 KiB while it arrives and read only when it is ``application/x-www-form-urlencoded``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import structlog
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from channels.soap.resource import capped_request_factory
from hub.interfaces import ConsoleHandler, WebReply, WebRequest

log = structlog.get_logger("passerelle.console")
MAX_FORM = 65_536
INTERNAL = WebReply(500, b"<!doctype html><title>Erreur</title><p>Erreur interne / internal error</p>")


class ConsoleResource(Resource):
    """Every path of the console."""

    isLeaf = True  # noqa: N815 - the name twisted.web reads

    def __init__(self, channel: str, handler: ConsoleHandler) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.channel = channel
        self.handler = handler

    def render(self, request: Any) -> Any:
        """Build the `WebRequest`; answer when the console has."""
        path, _, query = (request.uri or b"").partition(b"?")
        form: tuple[tuple[str, str], ...] = ()
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        urlencoded = ctype == b"application/x-www-form-urlencoded"
        if request.method == b"POST" and urlencoded and request.content and not getattr(request, "too_big", False):
            request.content.seek(0)  # twisted.web has read it once to fill request.args
            form = tuple(parse_qsl(request.content.read().decode("utf-8", "replace"), keep_blank_values=True))
        cookies = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in (request.received_cookies or {}).items())
        web = WebRequest(
            method=(request.method or b"").decode("ascii", "replace").upper(),
            path=unquote(path.decode("utf-8", "replace")) or "/",
            query=tuple(parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)),
            form=form,
            cookies=cookies,
            peer=getattr(request.getClientAddress(), "host", ""),
            channel=self.channel,
            secure=request.isSecure(),
            received_at=datetime.now(UTC),
        )
        d = self.handler.page(web)
        d.addErrback(self._failed)
        d.addCallback(lambda reply: self._reply(request, reply))
        return server.NOT_DONE_YET

    def _failed(self, failure: Failure) -> WebReply:
        log.error("console_failed", channel=self.channel, error=failure.type.__name__ if failure.type else "")
        return INTERNAL

    def _reply(self, request: Any, reply: WebReply) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(reply.status)
        request.setHeader(b"content-type", reply.content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-frame-options", b"DENY")
        request.setHeader(b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'")
        request.setHeader(b"referrer-policy", b"no-referrer")
        for name, value in reply.headers:
            request.responseHeaders.addRawHeader(name.encode("ascii"), value.encode("latin-1"))
        request.setHeader(b"content-length", str(len(reply.body)).encode("ascii"))
        request.write(reply.body)
        request.finish()


def site(channel: str, handler: ConsoleHandler, timeout: float) -> Any:
    """The twisted.web Site for one console channel."""
    web: Any = server  # twisted.web has no type hints
    factory = web.Site(ConsoleResource(channel, handler), timeout=timeout)
    factory.requestFactory = capped_request_factory(MAX_FORM)
    factory.displayTracebacks = False
    return factory
