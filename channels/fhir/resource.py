"""``/fhir`` on twisted.web: every method and path goes to the engine, which answers in FHIR JSON.

The transport reads the request line, the query, the Authorization header, the peer and the
client certificate's fingerprint, and nothing else: routing, authorization, refusals and the
journal are the engine's (hub/consult). The body of a request is never read (the channel is
read-only; a write verb is answered 405 by the engine) and is capped while it arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import structlog
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from channels.soap.resource import capped_request_factory, request_fingerprint
from hub.interfaces import Consultation, ConsultationHandler, ConsultReply

log = structlog.get_logger("passerelle.fhir")

BASE = b"/fhir"
MAX_BODY = 65_536  # nothing is read from a body; a larger one is not even kept
INTERNAL = ConsultReply(
    500,
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception",'
    b'"diagnostics":"erreur interne / internal error"}]}',
)


class FHIRResource(Resource):
    """Every request below ``/fhir``: handed to the engine as a `Consultation`."""

    isLeaf = True  # noqa: N815 - the name twisted.web reads

    def __init__(self, channel: str, handler: ConsultationHandler) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.channel = channel
        self.handler = handler

    def render(self, request: Any) -> Any:
        """Any method: build the `Consultation`, answer when the engine has committed its journal entry."""
        path, _, query = (request.uri or b"").partition(b"?")
        consultation = Consultation(
            method=(request.method or b"").decode("ascii", "replace").upper(),
            path=unquote(path[len(BASE) :].decode("utf-8", "replace")) or "/",
            query=tuple(parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)),
            authorization=(request.getHeader(b"authorization") or b"").decode("latin-1"),
            peer=getattr(request.getClientAddress(), "host", ""),
            channel=self.channel,
            received_at=datetime.now(UTC),
            tls_fingerprint=request_fingerprint(request),
        )
        d = self.handler.consult(consultation)
        d.addErrback(self._failed)
        d.addCallback(lambda reply: self._reply(request, reply))
        return server.NOT_DONE_YET

    def _failed(self, failure: Failure) -> ConsultReply:
        log.error("fhir_failed", channel=self.channel, error=failure.type.__name__ if failure.type else "")
        return INTERNAL

    def _reply(self, request: Any, reply: ConsultReply) -> None:
        if request.finished or request._disconnected:
            return  # the caller left; the access is journaled all the same
        request.setResponseCode(reply.status)
        request.setHeader(b"content-type", reply.content_type.encode("ascii"))
        request.setHeader(b"content-length", str(len(reply.body)).encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")  # patient data is never cached on the way
        for name, value in reply.headers:
            request.setHeader(name.encode("ascii"), value.encode("ascii"))
        request.write(reply.body)
        request.finish()


def site(channel: str, handler: ConsultationHandler, timeout: float) -> Any:
    """The twisted.web Site for one FHIR channel: ``/fhir`` and below, nothing else."""
    web: Any = server  # twisted.web has no type hints
    root: Any = Resource()  # type: ignore[no-untyped-call]
    root.putChild(BASE.strip(b"/"), FHIRResource(channel, handler))
    factory = web.Site(root, timeout=timeout)
    factory.requestFactory = capped_request_factory(MAX_BODY)
    factory.displayTracebacks = False
    return factory
