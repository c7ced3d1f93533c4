"""Reprocess a search result: at most `LIMIT` attempts, one after the other, with the progress kept.

The job's row in ``console_jobs`` names the entries it will run, in order, and counts each one
done with its ACK code: any worker shows the progress, and the entries stay the ones the operator
confirmed even if more match by then. Each attempt is reprocessed as a single one would be (a
new attempt, a ``console.reprocess`` entry linking both). A hub stopped mid-job leaves the row
"running" with its count: the page says it stopped once it has not moved for a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Engine, Table, insert, select, update

from hub.governance.partners import RegistryError
from hub.interfaces import MessageHandler
from hub.store.models import ConsoleJob

from . import actions

log = structlog.get_logger("passerelle.console")
jobs = cast(Table, ConsoleJob.__table__)
LIMIT = 500  # attempts per job
STALLED = timedelta(minutes=1)


def candidates(conn: Connection, query: Any) -> tuple[list[int], bool]:
    """The ids of the search result's attempts that kept their bytes, oldest first; and whether more matched."""
    rows = conn.execute(query.limit(LIMIT * 4)).all()
    kept = [r.id for r in rows if r.message_id is not None or (r.raw is not None and len(r.raw) == r.size)]
    return sorted(kept[:LIMIT]), len(kept) > LIMIT or len(rows) == LIMIT * 4


def start(engine: Engine, entry_ids: list[int], operator: str, now: datetime) -> int:
    """Record the job (not run yet); its id."""
    with engine.begin() as conn:
        job_id = conn.execute(
            insert(jobs).returning(jobs.c.id),
            {"operator": operator, "kind": "reprocess", "state": "running", "entries": json.dumps(entry_ids),
             "total": len(entry_ids), "done": 0, "outcomes": "{}", "created_at": now, "updated_at": now},
        ).scalar_one()  # fmt: skip
    return int(job_id)


def run(
    engine: Engine,
    intake: MessageHandler,
    reactor: Any,
    job_id: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Reprocess the job's entries in order (on a console thread), counting each one as it is done."""
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
    outcomes: Counter[str] = Counter(json.loads(row.outcomes))
    for done, entry_id in enumerate(json.loads(row.entries)[row.done :], start=row.done + 1):
        try:
            reply = actions.reprocess(engine, intake, reactor, entry_id, operator=row.operator, clock=clock)
            outcomes[reply.code.value if reply is not None else "none"] += 1
        except RegistryError:
            outcomes["skipped"] += 1
        except Exception as exc:
            log.warning("bulk_reprocess_failed", job=job_id, entry=entry_id, error=type(exc).__name__)
            outcomes["failed"] += 1
        with engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id)
                         .values(done=done, outcomes=json.dumps(dict(outcomes)), updated_at=clock()))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(state="done", updated_at=clock()))


def progress(engine: Engine, job_id: int, now: datetime) -> dict[str, Any] | None:
    """The job as its page shows it, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        return None
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    state = "stalled" if row.state == "running" and now - updated > STALLED else row.state
    return {"id": row.id, "operator": row.operator, "state": state, "total": row.total, "done": row.done,
            "outcomes": sorted(json.loads(row.outcomes).items())}  # fmt: skip
