"""Group commit: one writer thread, one transaction for everything that arrived meanwhile.

The reactor thread only enqueues; the writer thread prepares (parse, check, map), commits the
whole batch in one transaction, and hands all the replies back to the reactor in one call.
No ACK leaves before the commit that holds its message returned.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog
from sqlalchemy.exc import IntegrityError
from twisted.internet.defer import Deferred, succeed

from hub.interfaces import Inbound, Reply

from .outcome import Prepared, Status, Verdict, reply
from .pipeline import Pipeline
from .writer import StaleDirectory

log = structlog.get_logger("passerelle.intake")


class Committer(Protocol):
    """What the writer commits through (`SQLStore` or a fake)."""

    # True when each commit checks the partner directory itself (raising StaleDirectory).
    checks_directory: bool

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """One transaction for the whole batch."""


MAX_STALE = 3  # partner changes met by one batch before it is answered AR 207


def process(
    pipeline: Pipeline, store: Committer, batch: Sequence[Inbound], refresh: Callable[[], object] = lambda: None
) -> list[Reply | None]:
    """Prepare, commit and answer one batch; never raises.

    A store that finds the partner directory outdated (StaleDirectory) gets the batch again,
    prepared afresh after `refresh`: nothing is written under the old authorization.
    """
    for _attempt in range(MAX_STALE):
        prepared = [pipeline.prepare(i) for i in batch]
        try:
            verdicts = store.commit(prepared)
        except StaleDirectory:
            _refresh(refresh)
            continue
        except IntegrityError:
            # Another worker process stored one of these keys meanwhile: retry one by one so
            # the dedupe lookup sees its row, and the others are not held back by it.
            return [_one_by_one(pipeline, store, p) for p in prepared]
        except Exception as exc:  # any database failure: negative ACK, never AA
            log.error("commit_failed", error=type(exc).__name__, count=len(prepared))
            return [_final(_outage(pipeline, p)) for p in prepared]
        return [_final(v) for v in verdicts]
    log.error("directory_unsettled", count=len(batch))
    return [_final(_outage(pipeline, p)) for p in prepared]


def _one_by_one(pipeline: Pipeline, store: Committer, p: Prepared) -> Reply | None:
    try:
        (verdict,) = store.commit([p])
    except Exception as exc:
        log.error("commit_failed", error=type(exc).__name__, count=1)
        return _final(_outage(pipeline, p))
    return _final(verdict)


def _outage(pipeline: Pipeline, p: Prepared) -> Verdict:
    """Nothing was committed: AR 207, never AA; the sender resends later."""
    return Verdict(Status.REJECTED, pipeline.acks.outage(p))


def _final(v: Verdict) -> Reply | None:
    """Step 7: the reply for a committed verdict, and the log line for the attempt."""
    p = v.prepared
    h = p.header
    log.info(
        "message",
        channel=p.inbound.channel,
        peer=p.inbound.peer,
        control_id=h.control_id if h else "",
        message_type=h.message_type if h else "",
        status=v.status.value,
        ack_code=p.code,
        sha256=p.sha256[:16],
        codes=[i.code.value for i in p.issues if i.severity == "E"],
    )
    return reply(v)


def _refresh(refresh: Callable[[], object]) -> None:
    """Reload the partner directory if the registry changed; keep the old one if that fails."""
    try:
        refresh()
    except Exception as exc:
        log.error("directory_refresh_failed", error=type(exc).__name__)


class InlineIntake:
    """Processes each frame at once on the calling thread: for tests and one-shot tools."""

    def __init__(self, pipeline: Pipeline, store: Committer, refresh: Callable[[], object] = lambda: None) -> None:
        self.pipeline = pipeline
        self.store = store
        self.refresh = refresh

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Process now; the Deferred has already fired."""
        if not self.store.checks_directory:
            _refresh(self.refresh)
        return succeed(process(self.pipeline, self.store, [inbound], self.refresh)[0])

    def blocked(self, peer: str) -> bool:
        """Whether the pipeline's limiter blocks this peer."""
        return self.pipeline.limiter.blocked(peer)


class GroupCommitIntake:
    """The production handler: a writer thread batching everything that queued up."""

    def __init__(
        self,
        pipeline: Pipeline,
        store: Committer,
        call_from_thread: Callable[..., Any],
        max_batch: int = 500,
        refresh: Callable[[], object] = lambda: None,
    ) -> None:
        self.refresh = refresh
        self.pipeline = pipeline
        self.store = store
        self.call_from_thread = call_from_thread
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Inbound, Deferred[Reply | None]] | None] = queue.SimpleQueue()
        # The writer logs with the context it was made in (a worker's `worker=N`, for one).
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="passerelle-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then stop (frames still queued get no ACK: resent later)."""
        self._queue.put(None)
        self._thread.join(timeout)

    def blocked(self, peer: str) -> bool:
        """Whether the pipeline's limiter blocks this peer (reactor thread)."""
        return self.pipeline.limiter.blocked(peer)

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Enqueue (reactor thread); the Deferred fires on the reactor after the commit."""
        d: Deferred[Reply | None] = Deferred()
        self._queue.put((inbound, d))
        return d

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            stop = False
            while len(items) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
            if not self.store.checks_directory:  # else the commit checks it, in its own transaction
                _refresh(self.refresh)
            try:
                replies = process(self.pipeline, self.store, [i for i, _d in items], self.refresh)
            except Exception as exc:  # a bug, not a database failure: answer nothing, keep serving
                log.error("batch_failed", error=type(exc).__name__, count=len(items))
                replies = [None] * len(items)
            self.call_from_thread(_deliver, [d for _i, d in items], replies)
            if stop:
                return


def _deliver(deferreds: list[Deferred[Reply | None]], replies: list[Reply | None]) -> None:
    for d, answer in zip(deferreds, replies, strict=True):
        d.callback(answer)
