"""Group commit (``adapters/db/group_commit.py``): every caller answered only once its row is
committed, concurrent rows sharing transactions, a bad row failing alone, a failed group
retried row by row; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.group_commit import GroupCommitter
from sartiq_storage.adapters.db.models import UploadIntent, utcnow

TABLE = UploadIntent.__table__


def _row(key: str | None = None) -> dict[str, Any]:
    now = utcnow()
    return {
        "storage_key": key or f"temp/{uuid.uuid4().hex}_1_a.jpg",
        "filename": "a.jpg",
        "content_type": "image/jpeg",
        "declared_size": 10,
        "requester": "test",
        "created_at": now,
        "expires_at": now + timedelta(hours=1),
    }


def _keys(db: Database) -> set[str]:
    with db.read_connection() as connection:
        return set(connection.execute(select(UploadIntent.storage_key)).scalars())


def _count(db: Database) -> int:
    with db.read_connection() as connection:
        return int(connection.execute(select(func.count()).select_from(TABLE)).scalar_one())


def _run_together(calls: list[Any]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            calls[i]()
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_rows_share_transactions_and_each_is_durable_when_answered(
    db: Database,
) -> None:
    answered: list[str] = []
    seen_at_answer: list[bool] = []
    rows = [_row() for _ in range(40)]

    def before_commit(group: list[dict[str, Any]]) -> None:
        # The first group holds its transaction open until every other row has queued.
        waited = 0
        while committer._queue.qsize() < len(rows) - len(group) and waited < 500:
            threading.Event().wait(0.01)
            waited += 1

    committer = GroupCommitter(db, TABLE, writers=1, before_commit=before_commit)  # type: ignore[arg-type]

    def call(row: dict[str, Any]) -> Any:
        def insert() -> None:
            committer.insert(row)
            seen_at_answer.append(row["storage_key"] in _keys(db))
            answered.append(row["storage_key"])

        return insert

    assert _run_together([call(row) for row in rows]) == [None] * 40
    committer.close()
    assert sorted(answered) == sorted(r["storage_key"] for r in rows)
    assert all(seen_at_answer)  # a caller's row was readable by the time it was answered
    assert _count(db) == 40
    # The first caller's group (which may hold everyone, if its window filled it), then at most
    # one more for everyone who queued meanwhile.
    assert 1 <= committer.groups <= 2


def test_a_bad_row_fails_alone(db: Database) -> None:
    committer = GroupCommitter(db, TABLE, before_commit=lambda _rows: threading.Event().wait(0.02))  # type: ignore[arg-type]
    committer.insert(_row("temp/taken_1_a.jpg"))
    rows = [_row() for _ in range(9)] + [_row("temp/taken_1_a.jpg")]
    outcomes = _run_together([lambda row=row: committer.insert(row) for row in rows])
    committer.close()
    assert outcomes[:9] == [None] * 9
    assert isinstance(outcomes[9], IntegrityError)
    assert _count(db) == 10


def test_a_group_that_fails_commits_nothing_and_the_writer_goes_on(db: Database) -> None:
    failing = threading.Event()
    failing.set()

    def before_commit(_rows: object) -> None:
        if failing.is_set():
            raise RuntimeError("injected inside the transaction")

    committer = GroupCommitter(db, TABLE, before_commit=before_commit)  # type: ignore[arg-type]
    outcomes = _run_together([lambda: committer.insert(_row()) for _ in range(8)])
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert _count(db) == 0  # rolled back, group and retries alike
    failing.clear()
    committer.insert(_row())
    committer.close()
    assert _count(db) == 1


def test_close_commits_what_is_queued_and_refuses_more(db: Database) -> None:
    committer = GroupCommitter(db, TABLE)  # type: ignore[arg-type]
    committer.insert(_row())
    committer.close()
    with pytest.raises(RuntimeError, match="closed"):
        committer.insert(_row())
    assert _count(db) == 1


def test_event_loop_callers_share_groups_and_a_bad_row_fails_alone(db: Database) -> None:
    sizes: list[int] = []
    committer = GroupCommitter(db, TABLE, before_commit=lambda g: sizes.append(len(g)))  # type: ignore[arg-type]

    async def call(row: dict[str, Any]) -> bool:
        await committer.insert_async(row)
        return row["storage_key"] in _keys(db)  # durable by the time it is answered

    async def run(rows: list[dict[str, Any]]) -> list[bool | BaseException]:
        return await asyncio.gather(*(call(row) for row in rows), return_exceptions=True)

    assert asyncio.run(run([_row() for _ in range(30)])) == [True] * 30
    assert max(sizes) > 1  # the loop's callers shared transactions
    rows = [_row() for _ in range(5)] + [_row(f"temp/{uuid.uuid4().hex}_1_a.jpg")] * 2
    outcomes = asyncio.run(run(rows))
    committer.close()
    assert outcomes[:6] == [True] * 6
    assert isinstance(outcomes[6], IntegrityError)  # the same key twice: the second refused
    assert _count(db) == 36


def test_under_load_a_group_fills_for_the_window_and_a_lone_caller_never_waits(
    db: Database,
) -> None:
    sizes: list[int] = []
    committer = GroupCommitter(
        db, TABLE, window=0.2, writers=1, before_commit=lambda g: sizes.append(len(g))
    )  # type: ignore[arg-type]
    started = time.monotonic()
    for _ in range(5):
        committer.insert(_row())  # one caller at a time: every group holds one row
    assert time.monotonic() - started < 0.2 * 5 / 2  # never the window
    assert sizes == [1] * 5

    def caller() -> None:
        for _ in range(4):
            committer.insert(_row())  # each waits for its row, then sends the next

    sizes.clear()
    assert _run_together([caller] * 8) == [None] * 8
    committer.close()
    assert sum(sizes) == 32
    # Once a group held more than one row, the next one waits (up to the 0.2 s window) for as
    # many rows as it held: every caller it released sends its next row. A caller has one row
    # waiting at a time and four in all, so none has finished before the fourth group: the
    # first four groups never shrink. (How soon they reach all eight callers is the
    # scheduler's: on a busy machine one released thread can miss group after group, as CI
    # saw with [4, 7, 7, 7, 6, 1]; without the fill they shrink, e.g. [8, 2, 6, 2, 6, 7, 1].)
    assert len(sizes) >= 4, sizes
    for before, after in itertools.pairwise(sizes[:4]):
        if before > 1:
            assert after >= before, sizes
    assert max(sizes) >= 5, sizes  # most callers share a group


def test_a_filling_group_closes_once_the_last_groups_number_of_rows_is_queued(
    db: Database,
) -> None:
    """Under load the writer waits for as many rows as its last group held, not the window."""
    sizes: list[int] = []
    held = threading.Event()

    def before_commit(group: list[dict[str, Any]]) -> None:
        sizes.append(len(group))
        if not held.is_set():  # the first group stays open until three more rows queued
            held.set()
            waited = 0
            while committer._queue.qsize() < 3 and waited < 500:
                threading.Event().wait(0.01)
                waited += 1

    committer = GroupCommitter(db, TABLE, window=2.0, writers=1, before_commit=before_commit)  # type: ignore[arg-type]
    first = threading.Thread(target=committer.insert, args=(_row(),))
    first.start()
    assert held.wait(10)  # the writer is inside the first group, of one row
    assert _run_together([lambda: committer.insert(_row()) for _ in range(3)]) == [None] * 3
    first.join(timeout=30)
    assert sizes == [1, 3]  # the last group held 3: the next one fills to 3

    def later(delay: float) -> Any:
        def insert() -> None:
            time.sleep(delay)  # the rows trickle in: the group has to fill
            committer.insert(_row())

        return insert

    started = time.monotonic()
    assert _run_together([later(0.0), later(0.1), later(0.2)]) == [None] * 3
    elapsed = time.monotonic() - started
    committer.close()
    assert sizes == [1, 3, 3]
    assert elapsed < 1.0  # not the 2 s window


def test_the_writer_survives_losing_its_connection(db: Database) -> None:
    """The writer keeps one connection across groups; when the server drops it (a restart, an
    idle timeout), the failed group is retried row by row on a fresh one."""
    if not db.is_postgres:
        pytest.skip("a PostgreSQL backend to terminate")
    committer = GroupCommitter(db, TABLE)  # type: ignore[arg-type]
    committer.insert(_row())
    backends = []
    for writer in committer._writers:  # the writers that wrote: each holds a connection
        if writer.connection is not None:
            pid = writer.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            writer.connection.rollback()  # the query began a transaction on the idle connection
            backends.append(int(pid))
    assert backends
    with db.engine.connect() as admin:
        for pid in backends:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    committer.insert(_row())
    committer.close()
    assert _count(db) == 2


def test_on_postgresql_a_group_commits_while_the_next_one_is_written(db: Database) -> None:
    """Two writers on a server database: a commit waiting for the disk holds up no one."""
    if not db.is_postgres:
        pytest.skip("SQLite has one write lock: one writer")
    first_inside, second_inside = threading.Event(), threading.Event()
    overlapped: list[bool] = []

    def before_commit(_rows: object) -> None:
        if not first_inside.is_set():
            first_inside.set()
            overlapped.append(second_inside.wait(10))  # still inside the first transaction
        else:
            second_inside.set()

    committer = GroupCommitter(db, TABLE, before_commit=before_commit)  # type: ignore[arg-type]
    assert committer.writers == 2
    first = threading.Thread(target=committer.insert, args=(_row(),))
    first.start()
    assert first_inside.wait(10)
    committer.insert(_row())  # answered while the first group is still open
    first.join(timeout=30)
    committer.close()
    assert overlapped == [True]
    assert _count(db) == 2


def test_a_caller_is_answered_only_once_its_groups_commit_succeeded(db: Database) -> None:
    """A deferred foreign key is checked at the commit, not at the insert: a group holding a
    row that breaks it fails only when it commits (on PostgreSQL, inside the one autocommitted
    statement). Its callers must learn that, so none was answered before the commit."""
    metadata = MetaData()
    parents = Table("gc_parents", metadata, Column("id", Integer, primary_key=True))
    children = Table(
        "gc_children",
        metadata,
        Column("key", String(64), primary_key=True),
        Column(
            "parent_id",
            Integer,
            ForeignKey("gc_parents.id", deferrable=True, initially="DEFERRED"),
            nullable=False,
        ),
    )
    metadata.create_all(db.engine)
    try:
        with db.write_connection() as connection:
            connection.execute(insert(parents), [{"id": 1}])
        sizes: list[int] = []

        def before_commit(group: list[dict[str, Any]]) -> None:
            sizes.append(len(group))
            waited = 0  # the first group waits until the eight others queued: they form the next
            while len(sizes) == 1 and committer._queue.qsize() < 8 and waited < 500:
                threading.Event().wait(0.01)
                waited += 1

        committer = GroupCommitter(db, children, writers=1, before_commit=before_commit)  # type: ignore[arg-type]
        rows = [{"key": f"k{i}", "parent_id": 1} for i in range(7)]
        rows.append({"key": "bad", "parent_id": 2})  # no such parent: refused at the commit
        first = threading.Thread(target=committer.insert, args=({"key": "first", "parent_id": 1},))
        first.start()
        outcomes = _run_together([lambda row=row: committer.insert(row) for row in rows])
        first.join(timeout=30)
        committer.close()
        assert sizes[:2] == [1, 8]  # the bad row's group held seven good ones
        assert outcomes[:7] == [None] * 7  # committed again without it, row by row
        assert isinstance(outcomes[7], IntegrityError)
        with db.read_connection() as connection:
            kept = set(connection.execute(select(children.c.key)).scalars())
        assert kept == {"first"} | {f"k{i}" for i in range(7)}
    finally:
        metadata.drop_all(db.engine)
