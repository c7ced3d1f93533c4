"""The writer's driver-level statements store exactly what SQLAlchemy Core would have stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.dialects import sqlite

from hub.store import driver as driver_module
from hub.store.db import make_engine, upgrade
from hub.store.driver import Driver, Insert, Shape, numbered, sqlite_stamp
from hub.store.models import Base, LabObservation, LabOrder, Message, Patient, PatientIdentifier

messages = cast(Table, Message.__table__)
patients = cast(Table, Patient.__table__)
identifiers = cast(Table, PatientIdentifier.__table__)
orders = cast(Table, LabOrder.__table__)
observations = cast(Table, LabObservation.__table__)

AT = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)


def _patient(family: str) -> dict[str, Any]:
    return {
        "family": family,
        "given": "Hélène",
        "birth_date": "1954-12-31",
        "sex": "F",
        "created_at": AT,
        "updated_at": AT,
    }


def _message(n: int, patient_id: int) -> dict[str, Any]:
    return {
        "channel": "lab",
        "sending_application": "LIS",
        "sending_facility": "CHUM",
        "control_id": f"C{n}",
        "sha256": "0" * 64,
        "raw": "MSH|^~\\&|Œdème é è ç\r".encode(),
        "ack": b"MSH|ACK\r",
        "ack_code": "AA",
        "patient_id": patient_id,
        "received_at": AT,
        "stored_at": AT + timedelta(microseconds=1),
    }  # channel, peer, message_type, version, charset, warnings: left to their defaults


def _rows(engine: Engine, table: Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
    for r in out:
        r.pop("id")
        for k in ("patient_id", "message_id", "order_id", "key", "control_id", "value"):  # ids and unique keys
            r.pop(k, None)
    return out


def _write_both(engine: Engine) -> None:
    """The same rows twice: once through Core (with RETURNING), once through the driver."""
    with engine.begin() as conn:
        pid = conn.execute(insert(patients).returning(patients.c.id), [_patient("Lavoie")]).scalar_one()
        conn.execute(insert(identifiers), [{"patient_id": pid, "value": "123", "authority": "CHUM", "is_nam": True}])
        mid = conn.execute(insert(messages).returning(messages.c.id), [_message(1, pid)]).scalar_one()
        oid = conn.execute(
            insert(orders).returning(orders.c.id),
            [{"key": "K", "version": 1, "filler_number": "F1", "message_id": mid, "patient_id": pid}],
        ).scalar_one()
        obs = {"key": "K|1", "version": 1, "value_num": 5.4, "value_text": "cœur"}
        conn.execute(insert(observations), [{**obs, "order_id": oid, "message_id": mid, "patient_id": pid}])
        obs2 = {**obs, "key": "K|2", "value_num": None}
        conn.execute(insert(observations), [{**obs2, "order_id": oid, "message_id": mid, "patient_id": pid}])
    with engine.begin() as conn:
        driver = Driver(conn)
        ids = driver.new_ids({"patients": 1, "messages": 1, "lab_orders": 1})
        (pid,), (mid,), (oid,) = ids["patients"], ids["messages"], ids["lab_orders"]
        with driver.pipeline():
            driver.insert(Insert(patients, with_id=True), [{**_patient("Lavoie"), "id": pid}])
            driver.insert(
                Insert(identifiers), [{"patient_id": pid, "value": "124", "authority": "CHUM", "is_nam": True}]
            )
            driver.insert(Insert(messages, with_id=True), [{**_message(2, pid), "id": mid}])
            driver.insert(
                Insert(orders, with_id=True),
                [{"id": oid, "key": "K2", "version": 1, "filler_number": "F1", "message_id": mid, "patient_id": pid}],
            )
            owner = {"order_id": oid, "message_id": mid, "patient_id": pid}
            driver.insert(Insert(observations), [{**obs, "key": "K2|1", **owner}, {**obs2, "key": "K2|2", **owner}])


@pytest.mark.parametrize("values_params", [driver_module.VALUES_PARAMS, 0], ids=["values-rows", "arrays"])
def test_driver_rows_read_back_as_core_rows(
    engine: Engine, values_params: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Datetimes, booleans, floats, NULLs, bytes, French text and defaults read back as Core wrote them.

    On PostgreSQL, rows sent as VALUES and rows sent as one array per column (past
    `VALUES_PARAMS`) alike.
    """
    monkeypatch.setattr(driver_module, "VALUES_PARAMS", values_params)
    _write_both(engine)
    for table in (patients, identifiers, messages, orders, observations):
        rows = _rows(engine, table)
        half = len(rows) // 2
        assert half >= 1
        assert rows[:half] == rows[half:], table.name
    stored = _rows(engine, messages)[1]
    assert stored["raw"].decode() == "MSH|^~\\&|Œdème é è ç\r"
    assert stored["received_at"].replace(tzinfo=UTC) == AT


def test_new_ids_follow_the_stored_ones_and_core_inserts_go_on_after_them(engine: Engine) -> None:
    """Ids the driver hands out never collide with Core's, before or after."""
    with engine.begin() as conn:
        first = conn.execute(insert(patients).returning(patients.c.id), [_patient("A")]).scalar_one()
    with engine.begin() as conn:
        driver = Driver(conn)
        ids = driver.new_ids({"patients": 3, "messages": 0})["patients"]
        driver.insert(Insert(patients, with_id=True), [{**_patient("B"), "id": i} for i in ids])
    with engine.begin() as conn:
        last = conn.execute(insert(patients).returning(patients.c.id), [_patient("C")]).scalar_one()
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert first < ids[0]
    assert last > ids[-1]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, 0),  # no microseconds: still six digits
        datetime(999, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # a three-digit year: still four
        datetime(9999, 12, 31, 23, 59, 59, 1),
    ],
)
def test_sqlite_stamp_is_sqlalchemys_storage_format(value: datetime) -> None:
    """The text written for SQLite is what SQLAlchemy's SQLite DATETIME binds: wall clock, microseconds, no zone."""
    bind = sqlite.DATETIME().bind_processor(sqlite.dialect())  # type: ignore[no-untyped-call]
    assert bind is not None
    assert sqlite_stamp(value) == bind(value)
    assert sqlite_stamp(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))) == (
        "2026-01-02 03:04:05.000006"
    )


def test_sqlite_stamp_remembers_only_the_very_objects_it_wrote() -> None:
    """Interleaved, equal-but-distinct and evicted datetimes each get their own text."""
    bind = sqlite.DATETIME().bind_processor(sqlite.dialect())  # type: ignore[no-untyped-call]
    assert bind is not None
    a = datetime(2026, 3, 1, 8, 0, 0, 1)
    b = datetime(2026, 3, 1, 8, 0, 0, 2, tzinfo=UTC)
    c = datetime(2026, 3, 1, 8, 0, 0, 3, tzinfo=timezone(timedelta(hours=-4)))
    # The same instant as b, so equal to it, but another wall clock: another text.
    same_as_b = datetime(2026, 3, 1, 4, 0, 0, 2, tzinfo=timezone(timedelta(hours=-4)))
    assert same_as_b == b
    for value in (a, b, a, b, c, a, same_as_b, c, b, same_as_b, a, a, c, b):
        assert sqlite_stamp(value) == bind(value)
    for n in range(5):  # a run of fresh objects evicts the remembered ones
        fresh = datetime(2027, 1, 1, 0, 0, n)
        assert sqlite_stamp(fresh) == bind(fresh)
    assert sqlite_stamp(b) == bind(b)
    assert sqlite_stamp(c) == bind(c)


def test_insert_refuses_no_column_and_fills_defaults() -> None:
    """An Insert covers every column but the id (unless asked) and knows each text default."""
    stmt = Insert(messages)
    assert "id" not in stmt.columns
    assert "id" in Insert(messages, with_id=True).columns
    row = stmt.tuples([{}], sqlite=False)[0]
    assert row[stmt.columns.index("channel")] == ""
    assert row[stmt.columns.index("patient_id")] is None


@pytest.mark.parametrize("count", [0, 1, 7])
def test_any_of_matches_exactly_the_values(engine: Engine, count: int) -> None:
    """``IN (…)`` on SQLite and ``= ANY(…)`` on PostgreSQL find the same rows."""
    with engine.begin() as conn:
        conn.execute(insert(patients), [_patient(f"P{i}") for i in range(10)])
    with engine.connect() as conn:
        driver = Driver(conn)
        wanted = [f"P{i}" for i in range(count)] + ["nobody"]
        condition, params = driver.any_of("family", wanted)
        found = driver.query('SELECT "family" FROM "patients" WHERE ' + condition, params)  # noqa: S608
    assert sorted(f for (f,) in found) == sorted(wanted[:count])


def test_each_row_shape_fills_every_column_of_its_table_once() -> None:
    """Record attributes, computed values and defaults together name each column exactly once (the id when given)."""
    from hub.store import rows

    shapes = [v for v in vars(rows).values() if isinstance(v, Shape)]
    assert len(shapes) == 8
    for shape in shapes:
        table = next(t for t in Base.metadata.sorted_tables if t.name == shape.table)
        assert len(shape.columns) == len(set(shape.columns))
        assert set(shape.columns) | {"id"} == {c.name for c in table.columns}


def test_a_shape_refuses_a_column_it_cannot_fill() -> None:
    """A column with no default that neither the record nor the computed values fill is an error at import."""
    with pytest.raises(ValueError, match="control_id"):
        Shape(messages, None, ("channel",))
    with pytest.raises(ValueError, match="no column"):
        Shape(orders, None, ("nonexistent",))


def test_a_shaped_row_is_the_records_attributes_then_the_computed_values_then_defaults(engine: Engine) -> None:
    """A lab order staged as a tuple reads back, through SQLAlchemy, with every attribute and computed value."""
    from mappings.records import LabOrder as Order

    shape = Shape(orders, Order, ("observed_at", "reported_at", "notes", "version", "message_id", "patient_id"))
    order = Order("K1", "P1", "F1", "GLU", "Glucose", "LN", "F", None, "2026-03-04", "1234^Dr", "CHUM", ())
    with engine.begin() as conn:
        pid = conn.execute(insert(patients).values(**_patient("Tremblay")).returning(patients.c.id)).scalar_one()
        mid = conn.execute(insert(messages).values(**_message(1, pid)).returning(messages.c.id)).scalar_one()
        Driver(conn).insert_rows(shape, [shape.full(shape.row(order, "", "2026-03-04", "[]", 1), mid, pid)])
        stored = conn.execute(select(orders)).one()._mapping
    assert (stored["key"], stored["placer_number"], stored["filler_number"], stored["code_text"]) == (
        "K1", "P1", "F1", "Glucose",
    )  # fmt: skip
    assert (stored["observed_at"], stored["reported_at"], stored["version"], stored["section"]) == (
        "",
        "2026-03-04",
        1,
        "",
    )
    assert (stored["message_id"], stored["patient_id"]) == (mid, pid)


class _Counting:
    """The driver's cursor, counting the statements sent (each row of an executemany is one)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.sent: list[str] = []

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.sent.append(sql)
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self.sent += [sql] * len(rows)
        return self._cursor.executemany(sql, rows)

    def fetchall(self) -> Any:
        return self._cursor.fetchall()


def _batch(driver: Driver, family: str, observation_order: int | None = None) -> None:
    """A patient, an identifier, a message, an order and three observations, inside one pipeline."""
    ids = driver.new_ids({"patients": 1, "messages": 1, "lab_orders": 1})
    (pid,), (mid,), (oid,) = ids["patients"], ids["messages"], ids["lab_orders"]
    with driver.pipeline():
        driver.insert(Insert(patients, with_id=True), [{**_patient(family), "id": pid}])
        driver.insert(Insert(identifiers), [{"patient_id": pid, "value": family, "authority": "CHUM"}])
        driver.insert(Insert(messages, with_id=True), [{**_message(pid, pid), "id": mid}])
        order = {"id": oid, "key": family, "version": 1, "filler_number": family, "message_id": mid, "patient_id": pid}
        driver.insert(Insert(orders, with_id=True), [order])
        owner = {"order_id": observation_order or oid, "message_id": mid, "patient_id": pid}
        driver.insert(
            Insert(observations), [{"key": f"{family}|{n}", "version": 1, "value_num": n, **owner} for n in (1, 2, 3)]
        )


def test_postgresql_sends_a_batchs_inserts_as_one_statement_and_every_row_lands(pg_url: str) -> None:
    """Five tables and seven rows: one statement on the wire, the rows pointing to one another as written."""
    eng = make_engine(pg_url, busy_timeout_ms=2000)
    upgrade(eng)
    try:
        with eng.begin() as conn:
            driver = Driver(conn)
            _batch(driver, "Warmup")  # ids drawn once, outside the count
            counting = _Counting(driver.cursor)
            driver.cursor = counting
            _batch(driver, "Tremblay")
        inserts = [s for s in counting.sent if s.lstrip().startswith(("INSERT", "WITH"))]
        assert len(inserts) == 1
        with eng.connect() as conn:
            (order_id,) = conn.execute(select(orders.c.id).where(orders.c.key == "Tremblay")).one()
            rows = conn.execute(select(observations.c.value_num).where(observations.c.order_id == order_id)).all()
        assert sorted(r.value_num for r in rows) == [1.0, 2.0, 3.0]
    finally:
        eng.dispose()


def test_postgresql_refuses_the_whole_joined_statement_when_one_row_points_nowhere(pg_url: str) -> None:
    """A row whose order does not exist: the foreign key fails at the end, and none of the batch's rows is kept."""
    eng = make_engine(pg_url, busy_timeout_ms=2000)
    upgrade(eng)
    try:
        with pytest.raises(Exception, match="foreign key"), eng.begin() as conn:
            _batch(Driver(conn), "Gagnon", observation_order=10**9)
        with eng.connect() as conn:
            left = [len(conn.execute(select(t)).all()) for t in (patients, identifiers, messages, orders, observations)]
        assert left == [0, 0, 0, 0, 0]
    finally:
        eng.dispose()


def test_numbered_gives_postgresql_placeholders_in_order_and_refuses_a_stray_percent() -> None:
    """``%s`` become ``$1, $2, …`` left to right; any other ``%`` would be misread, so it is refused."""
    assert (
        numbered("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)") == "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
    )
    assert numbered("SELECT 1") == "SELECT 1"
    with pytest.raises(ValueError, match="placeholder"):
        numbered("SELECT * FROM t WHERE a LIKE 'x%' AND b = %s")
