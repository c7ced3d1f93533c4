"""What the metrics channel asks: the exposition, the writer thread alive, the database answering."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Engine, text
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from hub import metrics

from .intake import GroupCommitIntake

log = structlog.get_logger("passerelle.health")


class Health:
    """Implements `hub.interfaces.HealthHandler` for one process."""

    def __init__(self, intake: GroupCommitIntake, engine: Engine, reactor: Any) -> None:
        self.intake = intake
        self.engine = engine
        self.reactor = reactor

    def metrics(self) -> tuple[bytes, str]:
        """The exposition (every worker's, summed, under --workers)."""
        return metrics.exposition()

    def alive(self) -> bool:
        """The writer thread runs."""
        return self.intake.alive

    def ready(self) -> Deferred[bool]:
        """A ``SELECT 1`` off the reactor thread."""
        d: Deferred[bool] = deferToThread(self._query)
        return d

    def _query(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # the database is down or unreachable: not ready
            log.warning("not_ready", error=type(exc).__name__)
            return False
