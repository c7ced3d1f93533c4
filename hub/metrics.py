"""The hub's Prometheus metrics (prometheus-client), and their exposition.

One process: the default registry. Under ``serve --workers N`` the parent sets
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus-client, each worker writes its
values there, and a scrape of any worker sums them all (prometheus-client's multiprocess mode).
Labels carry channel names, statuses, ACK codes and reason codes: never a patient, a partner's
message or a control ID.
"""

from __future__ import annotations

import os
import platform

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess

from hub import __version__

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_MS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MESSAGES = Counter(
    "passerelle_messages",
    "Attempts answered, by channel, journal status and ACK code",
    ["channel", "status", "ack_code"],
)
END_TO_END = Histogram(
    "passerelle_end_to_end_seconds", "From a frame's arrival to its answer, after the commit", ["channel"], buckets=_MS
)
COMMIT = Histogram("passerelle_commit_seconds", "One batch's transaction, from BEGIN to COMMIT", buckets=_MS)
BATCH = Histogram("passerelle_batch_size", "Frames committed together", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
QUEUE = Gauge(
    "passerelle_writer_queue", "Frames waiting for the writer when it took its last batch", multiprocess_mode="livesum"
)
REFUSED = Counter("passerelle_refused_links", "Link attempts refused, by policy reason", ["reason"])
CONSULTATIONS = Counter(
    "passerelle_consultations", "Consultation requests, by journal status and HTTP status", ["status", "code"]
)
JOURNAL = Counter("passerelle_journal_entries", "Journal entries this hub appended")
# The writer's capacity: its CPU time per second of wall time is how busy it is (1.0 = saturated).
WRITER_CPU = Counter(
    "passerelle_writer_cpu_seconds",
    "CPU time of the thread writing batches, by phase: prepare (parse, link policy, rules, mapping) or commit",
    ["phase"],
)
PREPARE_CPU = WRITER_CPU.labels("prepare")
COMMIT_CPU = WRITER_CPU.labels("commit")
BUILD = Gauge("passerelle_build_info", "The hub's version and Python", ["version", "python"], multiprocess_mode="max")
BUILD.labels(__version__, platform.python_version()).set(1)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric (summed over the workers in multiprocess mode), and its type."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Forget a worker's live gauges (multiprocess mode), once it has exited."""
    if MULTIPROCESS:
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
