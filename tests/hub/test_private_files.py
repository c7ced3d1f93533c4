"""Files holding PHI are created readable by the hub's user alone."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from hub.store.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    """A new database in a new folder: folder 0700; database, -wal and -shm 0600."""
    db = tmp_path / "new" / "hub.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _mode(Path(f"{db}-wal")) == 0o600 and _mode(Path(f"{db}-shm")) == 0o600
    engine.dispose()
    assert _mode(db.parent) == 0o700
    assert _mode(db) == 0o600
