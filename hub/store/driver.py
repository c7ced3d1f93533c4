"""The writer's statements on the database driver's own cursor, built once per table.

SQLAlchemy's execution layer costs more than the statements it runs on the hot path
(measured: a prebuilt Core insert 19 µs per row against 3.5 µs on sqlite3's cursor; a Core
select 65 µs against 10.6 µs). So the group-commit writer uses the driver (sqlite3 or psycopg)
through the very connection and transaction SQLAlchemy opened; the models still define every
table, and everything else (CLI, admin, reads) stays on SQLAlchemy.

What SQLAlchemy would do for us is done here, and tested against it (tests/hub/test_driver.py):
- SQLite stores ``DateTime`` as naive text (``YYYY-MM-DD HH:MM:SS.ffffff``); values here are
  written in that format, so SQLAlchemy reads them back as before.
- Column defaults (``""`` for text) fill what a row does not set.
- Ids: rows that later rows point to get their ids before the insert, in one round trip
  (``max(id)`` under SQLite's write lock, ``nextval`` of each table's sequence on PostgreSQL),
  so no ``RETURNING`` is needed and the inserts can be pipelined.
- On PostgreSQL a batch's writes are one statement: each table's rows go in as VALUES rows
  (as columns of arrays, ``INSERT ... SELECT * FROM unnest(...)``, beyond `VALUES_PARAMS`
  values), and the tables' inserts are joined as data-modifying ``WITH`` parts of that
  statement. psycopg sends each statement of a pipeline (each row of an ``executemany``) with
  a flush of its own, a socket write per row (docs/design.md, "Set-based batch writes").
- On PostgreSQL every statement is numbered here (``$1, $2, …``, once per text) and run on a
  psycopg RawCursor, which takes it as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Table
from sqlalchemy.dialects import postgresql

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]  # for the columns' type names only


def quote(name: str) -> str:
    """An identifier quoted for both SQLite and PostgreSQL."""
    return f'"{name}"'


# PostgreSQL: an insert of up to this many values goes as VALUES rows, each value a parameter
# psycopg adapts in C; a larger one as one array per column (`unnest_insert`), which psycopg
# builds element by element in Python. A joined statement holds at most one insert per table,
# so it stays far below PostgreSQL's 65,535 parameters.
VALUES_PARAMS = 4000
_VALUES: dict[tuple[str, int], str] = {}  # (a table's INSERT, rows): its text with that many VALUES rows


def unnest_insert(table: str, columns: Sequence[Column[Any]]) -> str:
    """PostgreSQL: an INSERT of `columns` whose parameters are one array per column."""
    names = ", ".join(quote(c.name) for c in columns)
    arrays = ", ".join(f"%s::{c.type.compile(dialect=_PG)}[]" for c in columns)
    return f"INSERT INTO {quote(table)} ({names}) SELECT * FROM unnest({arrays})"


class _Stamps:
    """The last two datetimes `sqlite_stamp` wrote, each with its text, as (value, text) pairs.

    A message's rows share a few stamp objects (its arrival, the batch's commit time), so most
    calls come back with an object just written. Each pair is one reference, swapped whole, and
    holds its datetime alive, so an identity match can only be that very object.
    """

    __slots__ = ("first", "second")

    def __init__(self) -> None:
        self.first: tuple[datetime | None, str] = (None, "")
        self.second: tuple[datetime | None, str] = (None, "")


_STAMPS = _Stamps()


def sqlite_stamp(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it (naive wall-clock text)."""
    memo = _STAMPS
    pair = memo.first
    if pair[0] is value:
        return pair[1]
    other = memo.second
    if other[0] is value:
        return other[1]
    # isoformat is C: four digits of year, always six of microseconds; [:26] drops any offset.
    text = value.isoformat(" ", "microseconds")[:26]
    memo.second = pair
    memo.first = (value, text)
    return text


class Insert:
    """An INSERT of every column (the id only `with_id`); rows are dicts, missing keys take the column default."""

    __slots__ = ("columns", "defaults", "stamps", "table", "text", "unnest")

    def __init__(self, table: Table, *, with_id: bool = False) -> None:
        cols = [c for c in table.columns if with_id or c.name != "id"]
        self.table = table.name
        self.columns = tuple(c.name for c in cols)
        self.defaults = tuple(
            c.default.arg if c.default is not None and getattr(c.default, "is_scalar", False) else None  # type: ignore[attr-defined]
            for c in cols
        )
        self.stamps = tuple(i for i, c in enumerate(cols) if isinstance(c.type, DateTime))
        names = ", ".join(quote(n) for n in self.columns)
        self.text = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({{marks}})"
        self.unnest = unnest_insert(table.name, cols)

    def tuples(self, rows: Sequence[Mapping[str, Any]], sqlite: bool) -> list[tuple[Any, ...]]:
        """The rows as parameter tuples in column order (SQLite's stamps as text)."""
        columns, defaults = self.columns, self.defaults
        out = [tuple(map(r.get, columns, defaults)) for r in rows]
        if sqlite and self.stamps:
            out = [_stamped(t, self.stamps) for t in out]
        return out


class Shape:
    """An INSERT whose rows are built once, as tuples: a record's attributes, then computed values, then defaults.

    The columns are listed in that order: first every column a field of `record` fills as it
    is (one `attrgetter` call, in C), then `computed` in the order the caller appends them
    (what the staging works out, then the ids known only at write time), then every other
    column at its scalar default. A column that fits none of them is an error at import.
    """

    __slots__ = ("_defaults", "_get", "columns", "stamps", "table", "text", "unnest")

    def __init__(self, table: Table, record: type | None, computed: Sequence[str]) -> None:
        by_name = {c.name: c for c in table.columns}
        unknown = [n for n in computed if n not in by_name]
        if unknown:
            raise ValueError(f"{table.name} has no column {unknown}")
        fields = [f.name for f in dataclasses.fields(record)] if record is not None else []
        direct = [n for n in fields if n in by_name and n not in computed]
        rest = [c for n, c in by_name.items() if n not in direct and n not in computed and n != "id"]
        missing = [c.name for c in rest if c.default is None or not getattr(c.default, "is_scalar", False)]
        if missing:
            raise ValueError(f"{table.name}: {missing} have no default and no value")
        self.table = table.name
        self.columns = (*direct, *computed, *(c.name for c in rest))
        getter = operator.attrgetter(*direct) if direct else None
        if getter is not None and len(direct) == 1:
            self._get: Callable[[Any], tuple[Any, ...]] = lambda r: (getter(r),)
        else:
            self._get = getter or (lambda _r: ())
        self._defaults = tuple(c.default.arg for c in rest)  # type: ignore[union-attr]
        self.stamps = tuple(i for i, n in enumerate(self.columns) if isinstance(by_name[n].type, DateTime))
        names = ", ".join(quote(n) for n in self.columns)
        self.text = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({{marks}})"
        self.unnest = unnest_insert(table.name, [by_name[n] for n in self.columns])

    def row(self, record: object, *computed: Any) -> tuple[Any, ...]:
        """The record's attributes followed by `computed` (the rest is added by `full`)."""
        return self._get(record) + computed

    def full(self, row: tuple[Any, ...], *more: Any) -> tuple[Any, ...]:
        """A row staged with `row`, completed with the values known at write time and the defaults."""
        return row + more + self._defaults


def _stamped(values: tuple[Any, ...], stamps: tuple[int, ...]) -> tuple[Any, ...]:
    row = list(values)
    for i in stamps:
        v = row[i]
        if isinstance(v, datetime):
            row[i] = sqlite_stamp(v)
    return tuple(row)


def _draw_sql(wanted: Sequence[tuple[str, int]]) -> str:
    """PostgreSQL: one statement drawing n ids from each table's sequence (n bound per table)."""
    parts = [
        f"(SELECT array_agg(nextval(pg_get_serial_sequence('{t}', 'id'))) FROM generate_series(1, %s))"
        for t, _n in wanted
    ]
    return "SELECT " + ", ".join(parts)


def _joined(parts: Sequence[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """Statements joined into one: every one but the last as a data-modifying WITH part.

    PostgreSQL runs each part once, to completion, all on one snapshot, and checks foreign
    keys at the end of the statement: rows may point to rows another part inserts, but no two
    parts may modify the same row.
    """
    if len(parts) == 1:
        return parts[0]
    head = ", ".join(f'"w{i}" AS ({sql})' for i, (sql, _p) in enumerate(parts[:-1]))
    return f"WITH {head} {parts[-1][0]}", [p for _sql, params in parts for p in params]


@functools.lru_cache(maxsize=64)  # joined texts run to 100s of KiB at large batches; a miss costs a split
def numbered(sql: str) -> str:
    """``%s`` placeholders as PostgreSQL's own ``$1, $2, …``, the text converted once per shape.

    psycopg converts a statement's placeholders at every execution when it is longer than
    4 KiB or has more than 50 of them, which every joined write is. The writer's statements
    hold no other ``%``.
    """
    pieces = sql.split("%s")
    if any("%" in piece for piece in pieces):
        raise ValueError("a statement to number holds a % that is not a placeholder")
    out = [pieces[0]]
    for n, piece in enumerate(pieces[1:], 1):
        out.append(f"${n}")
        out.append(piece)
    return "".join(out)


Rows = list[tuple[Any, ...]]
Read = tuple[str, Sequence[Any], Callable[[Rows], None]]  # a statement, its parameters, what takes its rows


class Driver:
    """The driver connection under one SQLAlchemy connection, inside its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        self.postgresql = conn.dialect.name == "postgresql"
        raw = conn.connection.driver_connection
        assert raw is not None  # an open connection always has its driver connection
        self.raw: Any = raw
        if self.postgresql:  # statements numbered here ($1, $2, …), once per text: `numbered`
            from psycopg import RawCursor

            self.cursor: Any = RawCursor(raw)
            self._text: Callable[[str], str] = numbered
        else:
            self.cursor = self.raw.cursor()
            self._text = str
        self.mark = "?" if self.sqlite else "%s"
        self._marks: dict[int, str] = {}
        self._joining: list[tuple[str, list[Any]]] | None = None  # PostgreSQL, inside `pipeline`

    def marks(self, n: int) -> str:
        """``?, ?, ?`` (or ``%s, …``) for n parameters."""
        text = self._marks.get(n)
        if text is None:
            text = self._marks[n] = ", ".join([self.mark] * n)
        return text

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement; ``{mark}`` in `sql` is this driver's placeholder."""
        self.cursor.execute(self._text(sql.replace("{mark}", self.mark)), params)
        return list(self.cursor.fetchall())

    def read_all(self, reads: Sequence[Read], *, begin: bool = False) -> None:
        """Independent reads, each handing its rows on; one round trip on PostgreSQL (a pipeline).

        With `begin` (PostgreSQL, on a connection in autocommit mode), the transaction's BEGIN
        goes first in that round trip: psycopg's own would be sent and answered alone.
        """
        if not self.postgresql or (len(reads) < 2 and not begin):
            for sql, params, take in reads:
                take(self.query(sql, params))
            return
        cursors = [type(self.cursor)(self.raw) for _ in reads]
        with self.raw.pipeline():
            if begin:
                self.cursor.execute("BEGIN")
            for cursor, (sql, params, _take) in zip(cursors, reads, strict=True):
                cursor.execute(self._text(sql.replace("{mark}", self.mark)), params)
        for cursor, (_sql, _params, take) in zip(cursors, reads, strict=True):
            take(list(cursor.fetchall()))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement, no rows wanted."""
        self.cursor.execute(self._text(sql.replace("{mark}", self.mark)), params)

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement with no rows wanted; on PostgreSQL inside `pipeline`, part of the batch's one statement.

        It must not modify a row that another write of the same batch modifies.
        """
        self._write_or_join(sql.replace("{mark}", self.mark), list(params))

    def _write_or_join(self, sql: str, params: list[Any]) -> None:
        if self._joining is not None:
            self._joining.append((sql, params))
        else:
            self.cursor.execute(self._text(sql), params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each parameter row."""
        if rows:
            self.cursor.executemany(self._text(sql.replace("{mark}", self.mark)), rows)

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A ``column IN (…)`` condition and its parameters (``= ANY(%s)`` on PostgreSQL: one plan)."""
        if self.postgresql:
            return f"{quote(column)} = ANY(%s)", [list(values)]
        return f"{quote(column)} IN ({self.marks(len(values))})", list(values)

    def insert(self, stmt: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert every row: one executemany on SQLite, one statement on PostgreSQL (`_pg_insert`)."""
        if not rows:
            return
        if self.postgresql:
            self._pg_insert(stmt.text, stmt.unnest, stmt.tuples(rows, False))
        else:
            sql = stmt.text.format(marks=self.marks(len(stmt.columns)))
            self.cursor.executemany(sql, stmt.tuples(rows, self.sqlite))

    def insert_rows(self, shape: Shape, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert complete rows of `shape`, as `insert` does (SQLite's stamps as text)."""
        if not rows:
            return
        if self.postgresql:
            self._pg_insert(shape.text, shape.unnest, rows)
            return
        sql = shape.text.format(marks=self.marks(len(shape.columns)))
        if self.sqlite and shape.stamps:
            rows = [_stamped(t, shape.stamps) for t in rows]
        self.cursor.executemany(sql, rows)

    def _pg_insert(self, text: str, unnest: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: one INSERT for all `rows`, as VALUES rows or, beyond `VALUES_PARAMS`, as arrays."""
        width = len(rows[0])
        if len(rows) * width <= VALUES_PARAMS:
            key = (text, len(rows))
            sql = _VALUES.get(key)
            if sql is None:
                row = "(" + ", ".join(["%s"] * width) + ")"
                sql = _VALUES[key] = text.replace("VALUES ({marks})", "VALUES " + ", ".join([row] * len(rows)))
            self._write_or_join(sql, [v for r in rows for v in r])
        else:
            self._write_or_join(unnest, [list(c) for c in zip(*rows, strict=True)])

    def id_reads(self, bounds: Mapping[str, int], into: dict[str, list[int]]) -> list[Read]:
        """PostgreSQL: reads drawing up to `bounds` ids per table into `into`, sent with a batch's reads.

        Drawn before the batch is decided, so at most as many as it could need; an id drawn and
        not used is a gap, as any rolled-back insert leaves in a sequence. SQLite draws nothing
        here: `new_ids` takes max + 1 under the write lock, at no round trip.
        """
        wanted = [(t, n) for t, n in bounds.items() if n > 0]
        if not self.postgresql or not wanted:
            return []

        def take(rows: Rows) -> None:
            for (table, _n), ids in zip(wanted, rows[0], strict=True):
                into[table] = sorted(int(i) for i in ids)

        return [(_draw_sql(wanted), [n for _t, n in wanted], take)]

    def new_ids(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """Ids for new rows of each table, in one statement; the caller holds the write lock on SQLite.

        SQLite gives a new rowid as max + 1 (the tables are not AUTOINCREMENT), which is what
        is taken here; PostgreSQL draws from each table's sequence, safe across writers.
        """
        wanted = [(t, n) for t, n in counts.items() if n > 0]
        if not wanted:
            return {t: [] for t in counts}
        if self.sqlite:
            sql = "SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {quote(t)})" for t, _n in wanted)
            (tops,) = self.query(sql)
            got = {t: list(range(top + 1, top + 1 + n)) for (t, n), top in zip(wanted, tops, strict=True)}
        else:
            (arrays,) = self.query(_draw_sql(wanted), [n for _t, n in wanted])
            got = {t: sorted(int(i) for i in ids) for (t, _n), ids in zip(wanted, arrays, strict=True)}
        return {t: got.get(t, []) for t in counts}

    @contextlib.contextmanager
    def pipeline(self, *, commit: bool = False) -> Iterator[None]:
        """PostgreSQL: send everything inside in one round trip (errors raise at the end); else nothing.

        The inserts and `write` statements made inside are joined into one statement, sent
        last; other statements (`execute`, `execute_many`) go as they come, before it. With
        `commit`, the transaction's COMMIT follows them in the same round trip: it runs only
        if they all succeeded (PostgreSQL skips what follows an error until the pipeline's
        sync), and the block returns once PostgreSQL answered it, the WAL flushed. psycopg's
        own `commit()` would sync once more, a round trip of its own.
        """
        if not self.postgresql:
            yield
            return
        joining: list[tuple[str, list[Any]]] = []
        self._joining = joining
        try:
            with self.raw.pipeline():
                yield
                if joining:
                    sql, params = _joined(joining)
                    self.cursor.execute(numbered(sql), params)
                if commit:
                    self.cursor.execute("COMMIT")
        finally:
            self._joining = None
