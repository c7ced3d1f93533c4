"""The consultation handler the FHIR channel calls: `Consult.answer` on a thread pool of its own.

The reactor thread never touches the database; the intake writer keeps its own thread. Every
answer comes after its journal entry is committed; an unexpected error is an OperationOutcome
500 and a log line without the request's content.
"""

from __future__ import annotations

from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hub.interfaces import Consultation, ConsultReply

from .access import Consult
from .answer import error

log = structlog.get_logger("passerelle.consult")


class ConsultationService:
    """Runs each consultation on the pool; implements `hub.interfaces.ConsultationHandler`."""

    def __init__(self, consult: Consult, reactor: Any, threads: int = 4) -> None:
        self.consult_core = consult
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=threads, name="consult")

    def start(self) -> None:
        """Start the pool (stopped with the reactor)."""
        self.pool.start()
        self.reactor.addSystemEventTrigger("during", "shutdown", self.pool.stop)

    def consult(self, request: Consultation) -> Deferred[ConsultReply]:
        """Answer one request off the reactor thread; never errbacks."""
        return deferToThreadPool(self.reactor, self.pool, self._answer, request)

    def _answer(self, request: Consultation) -> ConsultReply:
        try:
            return self.consult_core.answer(request)
        except Exception as exc:  # a bug or an outage: the caller gets a 500, never a trace
            log.error("consult_failed", channel=request.channel, error=type(exc).__name__)
            return error(500, "internal", "erreur interne, réessayer / internal error, try again")

    def blocked(self, peer: str) -> bool:
        """True while this peer is rate-limited for refused requests."""
        return self.consult_core.limiter.blocked(peer)
