"""One multi-row INSERT per group (``adapters/db/bulk_insert.py``): rows stored exactly as
SQLAlchemy's own insert stores them, Python defaults filled, runs of other columns and long
groups split into statements; on SQLite and PostgreSQL (and in a host's schema)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, text
from sqlalchemy.exc import IntegrityError

from sartiq_storage.adapters.db.bulk_insert import BulkInsert
from sartiq_storage.adapters.db.engine import Database, make_engine
from sartiq_storage.adapters.db.models import Base, UploadIntent
from tests.support.db import postgres_url

TABLE = UploadIntent.__table__
COLUMNS = "id, storage_key, filename, content_type, declared_size, requester, created_at, "
COLUMNS += "expires_at, claimed_at, media_resource_id"


def _row(key: str, **extra: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
    return {
        "storage_key": key,
        "filename": "ä photo.png",
        "content_type": "image/png",
        "declared_size": 12345,
        "requester": "someone",
        "created_at": at,
        "expires_at": at + timedelta(minutes=15),
        **extra,
    }


def _stored(db: Database, key: str) -> tuple[Any, ...]:
    """The row as the database holds it, read without SQLAlchemy's result processing."""
    with db.read_connection() as connection:
        sql = f"SELECT {COLUMNS} FROM upload_intents WHERE storage_key = :key"
        return tuple(connection.execute(text(sql), {"key": key}).one())


def test_rows_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    ident = uuid.uuid4()
    other = datetime(2026, 12, 5, 13, 0, tzinfo=UTC).astimezone()  # stored as UTC either way
    theirs = _row("temp/a_1_theirs.png", id=ident, claimed_at=other, declared_size=None)
    ours = {**theirs, "storage_key": "temp/a_1_ours.png", "id": uuid.UUID(int=ident.int + 1)}
    with db.write_connection() as connection:
        connection.execute(insert(TABLE), [theirs])
        BulkInsert(db, TABLE).execute(connection, [ours])  # type: ignore[arg-type]
    stored_theirs = _stored(db, theirs["storage_key"])
    stored_ours = _stored(db, ours["storage_key"])
    assert stored_ours[2:] == stored_theirs[2:]  # same bytes: dates, NULLs, text
    assert type(stored_ours[0]) is type(stored_theirs[0])  # the id in the same form


def test_python_defaults_are_filled_and_ids_are_time_ordered(db: Database) -> None:
    rows = [_row(f"temp/d{i}_1_a.png") for i in range(5)]
    for row in rows:
        del row["created_at"]
    before = datetime.now(UTC)
    with db.write_connection() as connection:
        BulkInsert(db, TABLE).execute(connection, rows)  # type: ignore[arg-type]
    with db.read_connection() as connection:
        kept = connection.execute(select(UploadIntent.id, UploadIntent.created_at)).all()
    assert len(kept) == 5
    assert all(ident.version == 7 for ident, _ in kept)
    assert all(created >= before - timedelta(seconds=1) for _, created in kept)
    millis = [ident.int >> 80 for ident, _ in kept]  # the Unix time in milliseconds
    assert all(abs(ms - before.timestamp() * 1000) < 60_000 for ms in millis)


def test_other_columns_and_long_groups_take_several_statements(db: Database) -> None:
    rows = [_row(f"temp/m{i}_1_a.png") for i in range(23)]
    for row in rows[5:9]:
        row["claimed_at"] = row["created_at"]
    bulk = BulkInsert(db, TABLE, max_parameters=40)  # type: ignore[arg-type]
    with db.write_connection() as connection:
        bulk.execute(connection, rows)
    with db.read_connection() as connection:
        claimed = connection.execute(
            select(UploadIntent.storage_key).where(UploadIntent.claimed_at.is_not(None))
        )
        assert sorted(claimed.scalars()) == sorted(r["storage_key"] for r in rows[5:9])
        count = connection.execute(select(UploadIntent.id)).all()
    assert len(count) == 23
    shapes = set(bulk._statements)  # (columns, rows) of each statement compiled
    assert len({columns for columns, _ in shapes}) == 2
    assert max(rows for _, rows in shapes) == 40 // 8  # 8 columns: at most 5 rows a statement


def test_a_refused_row_is_sqlalchemys_error_and_nothing_of_its_statement_stays(
    db: Database,
) -> None:
    rows = [_row("temp/x_1_a.png"), _row("temp/y_1_a.png"), _row("temp/x_1_a.png")]
    with pytest.raises(IntegrityError), db.write_connection() as connection:
        BulkInsert(db, TABLE).execute(connection, rows)  # type: ignore[arg-type]
    with db.read_connection() as connection:
        assert connection.execute(select(UploadIntent.id)).all() == []


def test_in_a_host_applications_schema() -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("a PostgreSQL schema needs SARTIQ_TEST_DATABASE_URL")
    schema = f"bulk_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(url, pool_size=1, max_overflow=0)
    with admin.engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = Database(make_engine(url), schema=schema)
    try:
        Base.metadata.create_all(db.engine)
        with db.write_connection() as connection:
            BulkInsert(db, TABLE).execute(connection, [_row("temp/s_1_a.png")])  # type: ignore[arg-type]
        with admin.engine.connect() as connection:
            count = connection.exec_driver_sql(f"SELECT count(*) FROM {schema}.upload_intents")
            assert count.scalar_one() == 1
    finally:
        db.dispose()
        with admin.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_numbered_statements_store_the_same_rows_on_postgresql(db: Database) -> None:
    """``numbered``: the statement with ``$n`` placeholders for psycopg's ``RawCursor``, which
    sends it as it is: the same stored bytes, and a percent sign in a name stays one."""
    if not db.is_postgres:
        with pytest.raises(ValueError, match="numbered by the driver"):
            BulkInsert(db, TABLE).numbered([_row("temp/n_1_a.png")])  # type: ignore[arg-type]
        return
    from psycopg import RawCursor

    theirs = _row("temp/n_1_theirs.png", claimed_at=datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    rows = [{**theirs, "storage_key": f"temp/n{i}_1_ours.png"} for i in range(9)]
    rows[3]["declared_size"] = None
    odd = Table("bulk%odd", MetaData(), Column("id", Integer, primary_key=True), Column("v", Text))
    odd.create(db.engine)
    try:
        with db.write_connection() as connection:
            connection.execute(insert(TABLE), [{**theirs, "id": uuid.uuid4()}])
            raw = connection.connection.driver_connection
            for sql, values in BulkInsert(db, TABLE).numbered(rows):  # type: ignore[arg-type]
                assert "%(" not in sql
                RawCursor(raw).execute(sql, values)  # type: ignore[arg-type]
            for sql, values in BulkInsert(db, odd).numbered([{"id": 1, "v": "50% off"}]):
                RawCursor(raw).execute(sql, values)  # type: ignore[arg-type]
            assert connection.execute(select(odd.c.v)).scalar_one() == "50% off"
        stored_theirs = _stored(db, theirs["storage_key"])
        for i, row in enumerate(rows):
            stored = _stored(db, row["storage_key"])
            if i == 3:
                assert stored[4] is None
                continue
            assert stored[2:] == stored_theirs[2:]
    finally:
        odd.drop(db.engine)
