"""Group commit: one writer thread, one transaction for everything that arrived meanwhile.

The reactor thread only enqueues; the writer thread prepares (parse, check, map), commits the
whole batch in one transaction, and hands all the replies back to the reactor in one call.
No ACK leaves before the commit that holds its message returned.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.exc import DataError, IntegrityError
from twisted.internet.defer import Deferred, succeed

from hub import metrics
from hub.interfaces import Inbound, Reply
from hub.logs import short_id

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
        began = time.thread_time()  # this thread's CPU: what the writer spends, not what it waits
        items, dropped = pipeline.prepare_batch(batch)
        prepared = [p for p in items if p is not None]
        started, committing = time.perf_counter(), time.thread_time()
        metrics.PREPARE_CPU.inc(committing - began)
        try:
            verdicts = store.commit([*prepared, *dropped])
            metrics.COMMIT.observe(time.perf_counter() - started)
            metrics.BATCH.observe(len(prepared))
            metrics.JOURNAL.inc(len(prepared) + len(dropped))  # one entry each (a summary for the dropped)
        except StaleDirectory:
            _refresh(refresh)
            continue
        except (IntegrityError, DataError):
            # Another worker process stored one of these keys meanwhile, or the database refused
            # one message's value: retry one by one, so the dedupe lookup sees the other row and
            # a refused value fails only its own message.
            replies = [_one_by_one(pipeline, store, p) for p in prepared]
            for summary in dropped:
                _one_by_one(pipeline, store, summary)
            return _spread(items, replies)
        except Exception as exc:  # any database failure: negative ACK, never AA
            log.error("commit_failed", error=type(exc).__name__, count=len(prepared))
            return _spread(items, [_final(_outage(pipeline, p)) for p in prepared])
        finally:
            metrics.COMMIT_CPU.inc(time.thread_time() - committing)
        return _spread(items, [_final(v) for v in verdicts[: len(prepared)]])
    log.error("directory_unsettled", count=len(batch))  # the last attempt's preparation answers AR 207
    return _spread(items, [_final(_outage(pipeline, p)) for p in prepared])


def _spread(items: Sequence[Prepared | None], replies: Sequence[Reply | None]) -> list[Reply | None]:
    """One reply per frame: dropped frames (None) get none."""
    answers = iter(replies)
    return [None if p is None else next(answers) for p in items]


def _one_by_one(pipeline: Pipeline, store: Committer, p: Prepared) -> Reply | None:
    try:
        (verdict,) = store.commit([p])
    except Exception as exc:
        log.error("commit_failed", error=type(exc).__name__, count=1)
        failed = _outage(pipeline, p)
        if isinstance(exc, DataError) and p.status is not Status.REJECTED:
            _journal_refused(store, failed.prepared)
        return _final(failed)
    return _final(verdict)


def _journal_refused(store: Committer, p: Prepared) -> None:
    """Journal an attempt whose values the database refused (AR 207), its raw bytes kept."""
    try:
        store.commit([p])
    except Exception as exc:
        log.error("journal_failed", error=type(exc).__name__)


def _outage(pipeline: Pipeline, p: Prepared) -> Verdict:
    """Nothing was committed: AR 207, never AA; the sender resends later."""
    return Verdict(Status.REJECTED, pipeline.acks.outage(p))


def _final(v: Verdict) -> Reply | None:
    """Step 7: the reply for a committed verdict, and the log line for the attempt."""
    p = v.prepared
    h = p.header
    channel = p.inbound.channel
    metrics.MESSAGES.labels(channel, v.status.value, p.code).inc()
    metrics.END_TO_END.labels(channel).observe(max(0.0, (datetime.now(UTC) - p.inbound.received_at).total_seconds()))
    if v.status is Status.REFUSED:
        metrics.REFUSED.labels(p.decision or "unknown").inc()
    log.info(
        "message",
        channel=p.inbound.channel,
        peer=p.inbound.peer,
        control_id=short_id(h.control_id) if h else "",
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

    def accepting(self) -> bool:
        """Always: each frame is processed before `handle` returns."""
        return True

    def when_accepting(self, callback: Callable[[], None]) -> None:
        """Call now: there is never a queue."""
        callback()


_Item = tuple[Inbound, Deferred[Reply | None]]


class GroupCommitIntake:
    """The production handler: a writer thread batching everything that queued up."""

    def __init__(
        self,
        pipeline: Pipeline,
        store: Committer,
        call_from_thread: Callable[..., Any],
        *,
        max_batch: int = 500,
        gather_s: float = 0.001,
        refresh: Callable[[], object] = lambda: None,
        max_queued: int = 5000,
        on_death: Callable[[], object] = lambda: None,
    ) -> None:
        self.refresh = refresh
        self.max_queued = max_queued  # frames waiting for the writer before transports stop reading
        self.on_death = on_death  # called on the reactor when the writer thread ends unasked
        self._waiters: list[Callable[[], None]] = []  # reactor thread only
        self._stopping = False
        self.pipeline = pipeline
        self.store = store
        self.call_from_thread = call_from_thread
        self.max_batch = max_batch
        self.gather_s = gather_s
        self._expect = 1
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        # The writer logs with the context it was made in (a worker's `worker=N`, for one).
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="passerelle-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then stop (frames still queued get no ACK: resent later)."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def depth(self) -> int:
        """Frames waiting for the writer in this process now."""
        return self._queue.qsize()

    def accepting(self) -> bool:
        """False while `max_queued` frames wait for the writer (reactor thread)."""
        return self._queue.qsize() < self.max_queued

    def when_accepting(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the reactor once the queue is down to half its bound."""
        if self.accepting():
            callback()
        else:
            self._waiters.append(callback)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for callback in waiters:
            callback()

    def blocked(self, peer: str) -> bool:
        """Whether the pipeline's limiter blocks this peer (reactor thread)."""
        return self.pipeline.limiter.blocked(peer)

    def handle(self, inbound: Inbound) -> Deferred[Reply | None]:
        """Enqueue (reactor thread); the Deferred fires on the reactor after the commit."""
        d: Deferred[Reply | None] = Deferred()
        self._queue.put((inbound, d))
        return d

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """The batch that starts with `first`, and whether the stop mark came after it.

        Everything queued is taken; then, for at most `gather_s`, the writer waits for as many
        frames as the last commit answered plus those left queued after it: the senders it
        answered send their next message within a few hundred µs, and without the wait their
        frames split into a batch of one or two and a batch of the rest, paying the
        transaction's fixed cost twice (docs/design.md, "Group commit"). A lone sender is
        never kept waiting: its next batch is expected to hold one frame.
        """
        items = [first]
        expect = min(self._expect, self.max_batch)
        deadline = 0.0
        while len(items) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                if len(items) >= expect:
                    break
                now = time.monotonic()
                deadline = deadline or now + self.gather_s
                if now >= deadline:
                    break
                try:
                    nxt = self._queue.get(timeout=deadline - now)
                except queue.Empty:
                    break
            if nxt is None:
                return items, True
            items.append(nxt)
        return items, False

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if not self._stopping:  # an exit nobody asked for: the hub must not go on answering nothing
                self._died()

    def _died(self) -> None:
        try:
            log.error("writer_died")
        finally:
            self.call_from_thread(self.on_death)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items, stop = self._gather(first)
            metrics.QUEUE.set(self._queue.qsize())
            if self._waiters and self._queue.qsize() < self.max_queued // 2:
                self.call_from_thread(self._wake)
            if not self.store.checks_directory:  # else the commit checks it, in its own transaction
                _refresh(self.refresh)
            try:
                replies = process(self.pipeline, self.store, [i for i, _d in items], self.refresh)
            except Exception as exc:  # a bug, not a database failure: answer nothing, keep serving
                log.error("batch_failed", error=type(exc).__name__, count=len(items))
                replies = [None] * len(items)
            # who will be waiting for the next commit: the senders answered now, and those queued meanwhile
            self._expect = len(items) + self._queue.qsize()
            self.call_from_thread(_deliver, [d for _i, d in items], replies)
            if stop:
                return


def _deliver(deferreds: list[Deferred[Reply | None]], replies: list[Reply | None]) -> None:
    for d, answer in zip(deferreds, replies, strict=True):
        d.callback(answer)
