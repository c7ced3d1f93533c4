"""What the writer makes of a fixed traffic, as one JSON text: every row it added, the journal chain included.

Run as a script (``python store_digest.py [--pure]``) it prints the digest; the parity test
compares the compiled build's digest with the pure-Python one. The clock and the ACKs' control
IDs are fixed, so two runs of one build print the same text.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _traffic() -> list[list[bytes]]:
    """Batches of lab frames: new and known patients, a held one, a correction, a duplicate, a conflict, refusals."""
    from lab_engine import oru

    first = [oru(f"D{n}", value=f"{n}.5").encode() for n in range(3)]
    return [
        first[:1],
        [*first[1:], oru("D8").encode().replace(b"123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM", b"456^^^CHUM^MR")],
        [oru("D9", status="P").encode(), oru("D10", status="F").encode(), first[0]],  # a duplicate
        [oru("D0", value="9.9").encode(), oru("D11", name="Roy^Anne").encode()],  # a conflict
        [oru("D12").encode().replace(b"|LIS|CHUM|", b"|NOBODY|CHUM|"), b"MSH|^~\\&|broken"],
    ]


def _rows(path: Path) -> dict[str, list[list[Any]]]:
    with sqlite3.connect(path) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {
            t: [[v.hex() if isinstance(v, bytes) else v for v in row] for row in conn.execute(f'SELECT * FROM "{t}"')]  # noqa: S608 (sqlite_master's names)
            for t in tables
        }


def digest() -> str:
    """The fixed traffic through the pipeline and the store, on a fresh SQLite database."""
    from lab_engine import pipeline

    from hub.engine.acks import Acknowledger
    from hub.engine.intake import process
    from hub.engine.writer import SQLStore
    from hub.interfaces import Inbound
    from hub.logs import configure
    from hub.store.db import make_engine, upgrade

    configure("warning")  # the attempts' log lines would go to stdout, amid the digest
    ids = itertools.count()
    acks = Acknowledger(clock=lambda: NOW, new_id=lambda: f"ACK{next(ids)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digest.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        before = _rows(path)
        store = SQLStore(engine, clock=lambda: NOW, acks=acks)
        lab = replace(pipeline(), acks=acks)
        answers = []
        for batch in _traffic():
            replies = process(lab, store, [Inbound(raw, "127.0.0.1", "lab", NOW) for raw in batch])
            answers += [None if r is None else r.ack.hex() for r in replies]
        engine.dispose()
        added = {t: rows[len(before.get(t, [])) :] for t, rows in _rows(path).items()}
    return json.dumps({"answers": answers, "rows": added}, sort_keys=True, ensure_ascii=False, default=str)


if __name__ == "__main__":
    if "--pure" in sys.argv:
        from pure import prefer_sources

        prefer_sources()
    sys.stdout.write(digest())
