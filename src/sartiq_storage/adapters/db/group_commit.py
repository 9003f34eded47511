"""Group commit: rows from concurrent callers inserted by one writer, a transaction per group.

A presign writes one small row (its upload intent) and must not answer before the row is
durable. One transaction per request spends most of the request in SQLAlchemy's unit of work
and the commit, and on SQLite every writer queues for the one write lock anyway. Here each
caller hands its row to a writer thread and waits; the writer takes every row waiting at that
moment (up to :data:`MAX_GROUP`), inserts them with one multi-row ``INSERT`` in one
transaction (``bulk_insert.py``), commits, and only then releases their callers. On
PostgreSQL that ``INSERT`` is sent alone in autocommit, where it is its own transaction: the
server answers it only once it has committed, so a group costs one round trip, not three
(``BEGIN``, the insert, ``COMMIT``), and its writer gives up and takes back the GIL once. Rows
arriving during a commit form the next group, so under load groups grow by themselves and
with one caller there is no added wait.

Under load (the last group held more than one row) the writer lets a group fill after its
first row before taking the rest: for :data:`WINDOW_SECONDS`, or with one writer (SQLite)
until as many rows are queued as the last group held plus those queued during its commit (the
callers under load), if that comes first. A transaction's fixed cost (``BEGIN``, the statement, the
commit) is then shared by a few more rows instead of each group holding one or two as callers
trickle in; under steady load the whole cohort of callers has queued well before the window
ends (32 connections: ~0.9 ms of the 2), and waiting longer would gain no row. A lone caller
never waits.

The writer keeps one connection across groups (a pool checkout, PostgreSQL's pre-ping and the
reset on return cost a third of a small group's transaction). On PostgreSQL :data:`WRITERS`
writers take groups from the same queue, so a commit waiting for the server's disk does not
hold up the next group; one of them at a time collects a group (the others commit or wait),
so a group letting itself fill does not lose its rows to an idle writer. On SQLite, with its
one write lock, there is one writer.

Callers on an event loop use :meth:`GroupCommitter.insert_async`: no worker thread is held per
caller, and a group wakes each loop once, not once per row.

If a group's transaction fails, each of its rows is tried again alone, so a bad row fails
only its own caller. A process that dies mid-commit answered none of that group's callers and
its transaction never committed: all of the group or none of it (``tests/hardening``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeAlias, cast

from psycopg import Connection as PgConnection
from psycopg import RawCursor
from sqlalchemy import Connection, Table

from sartiq_storage.adapters.db.bulk_insert import BulkInsert
from sartiq_storage.adapters.db.engine import Database

MAX_GROUP = 256
"""Rows per transaction at most: bounds one commit's time and its statement's size."""

WINDOW_SECONDS = 0.002
"""How long the writer lets a group fill under load: well under the presign's 20 ms p99 target,
and a few rows at the rates one worker reaches."""

WRITERS = 2
"""Writer threads on a server database (PostgreSQL): one group's commit, waiting for the
server's disk, overlaps the next group's insert. SQLite has one write lock: one writer."""

_STOP = object()
_NO_TARGET = 1 << 62  # no writer is letting a group fill: callers wake nobody


class _Writer:
    """One writer thread's connection, kept across its groups; dropped when a write fails
    (the row-by-row retries then open a fresh, pinged one)."""

    __slots__ = ("connection",)

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


class _LoopWaiter:
    """An event loop's future for one row, settled on its loop (never from the writer)."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()


_Waiter: TypeAlias = Future[None] | _LoopWaiter
_Item: TypeAlias = tuple[dict[str, Any], _Waiter]


def _settle_on_loop(waiters: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for future, exc in waiters:
        if future.done():  # its caller went away
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


def _settle(items: list[tuple[_Waiter, BaseException | None]]) -> None:
    """Settle each waiter: thread futures at once, loop futures by one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], Any]]] = {}
    for waiter, exc in items:
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, exc))
        elif exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)
    for loop, waiters in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, waiters)
        except RuntimeError:  # the loop is closed: nobody waits any more
            continue


class GroupCommitter:
    """Inserts into one table on behalf of many threads; :meth:`insert` returns once the row
    is committed, or raises the error that refused it."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        max_group: int = MAX_GROUP,
        window: float = WINDOW_SECONDS,
        writers: int | None = None,
        before_commit: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self._insert = BulkInsert(db, table)
        self.one_statement = db.is_postgres
        """A group is one ``INSERT`` in autocommit, its own transaction (PostgreSQL): one round
        trip instead of ``BEGIN``, the insert and ``COMMIT``."""
        self._numbered = self.one_statement and db.engine.dialect.driver == "psycopg"
        self.max_group = max_group
        self.window = window
        self.before_commit = before_commit
        """Called with the group's rows before they are committed (the services' failpoint):
        inside the group's transaction, after the insert; where the insert is its own
        transaction (:attr:`one_statement`), before it is sent."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.writers = writers or (1 if db.engine.dialect.name == "sqlite" else WRITERS)
        self._threads: list[threading.Thread] = []
        self._writers: list[_Writer] = []
        self._closed = False
        self._filled = threading.Event()
        self._collecting = threading.Lock()
        """Held by the writer taking a group from the queue: while it lets its group fill, an
        idle writer does not take the rows that group waits for."""
        self._target = _NO_TARGET
        self.groups = 0
        """Transactions committed (a test and benchmark counter)."""

    def insert(self, row: Mapping[str, Any]) -> None:
        """Queue ``row`` and wait until its group is committed."""
        future: Future[None] = Future()
        self._start()
        self._queue.put((dict(row), future))
        self._queued()
        future.result()

    async def insert_async(self, row: Mapping[str, Any]) -> None:
        """:meth:`insert` for a caller on an event loop."""
        waiter = _LoopWaiter(asyncio.get_running_loop())
        self._start()
        self._queue.put((dict(row), waiter))
        self._queued()
        await waiter.future

    def _queued(self) -> None:
        """Wake a writer letting its group fill once as many rows wait as there were callers
        under load: then everyone is in, and waiting longer gains no row."""
        if self._queue.qsize() >= self._target:
            self._filled.set()

    def close(self) -> None:
        """Stop the writers once the rows already queued are committed."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join()

    def _start(self) -> None:
        if self._threads and not self._closed:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            while len(self._threads) < self.writers:
                thread = threading.Thread(
                    target=self._run,
                    args=(_Writer(),),
                    name=f"group-commit-{self.table.name}-{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _run(self, writer: _Writer) -> None:
        with self._lock:
            self._writers.append(writer)
        try:
            last = 1
            while True:
                with self._collecting:  # one writer collects while the others commit
                    group = [self._queue.get()]
                    if last > 1 and self.window > 0 and group[0] is not _STOP:
                        self._fill(last - 1)  # under load: let the group fill
                    while len(group) < self.max_group:
                        try:
                            group.append(self._queue.get_nowait())
                        except queue.Empty:
                            break
                stops = sum(1 for item in group if item is _STOP)
                for _ in range(stops - 1):  # another writer's to take
                    self._queue.put(_STOP)
                group = [item for item in group if item is not _STOP]
                last = len(group)
                if group:
                    self._commit(group, writer)
                    # Callers who queued during the commit are under load too: with them the
                    # next group waits for every active caller, not for one cohort of them.
                    last += self._queue.qsize()
                if stops:
                    return
        finally:
            writer.drop()

    def _fill(self, rows: int) -> None:
        """Wait until ``rows`` more rows are queued, or for the window. With one writer
        (SQLite) only: with two (PostgreSQL) groups alternate between them, the last group is
        no measure of the callers, and the target only woke a writer into the other's way
        (measured: no gain, more CPU), so each waits the window."""
        if self.writers > 1:  # groups alternate between writers: no cohort to wait for
            time.sleep(self.window)
            return
        self._filled.clear()
        self._target = rows
        if self._queue.qsize() < rows:  # a caller that queued before the target was set
            self._filled.wait(self.window)
        self._target = _NO_TARGET

    def _commit(self, group: list[_Item], writer: _Writer) -> None:
        try:
            self._write([row for row, _ in group], writer)
        except Exception:  # noqa: BLE001 - each row is tried alone below
            _settle([(waiter, self._write_alone(row, writer)) for row, waiter in group])
            return
        self._count()
        _settle([(waiter, None) for _, waiter in group])

    def _count(self) -> None:
        with self._lock:
            self.groups += 1

    def _write_alone(self, row: dict[str, Any], writer: _Writer) -> BaseException | None:
        """None once ``row`` is committed alone, or the error that refused it."""
        try:
            self._write([row], writer, alone=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the row's caller
            return exc
        self._count()
        return None

    def _write(self, rows: list[dict[str, Any]], writer: _Writer, *, alone: bool = False) -> None:
        if self.one_statement:
            # A group's statement goes to psycopg as it is; a row retried alone goes through
            # SQLAlchemy, so the error its caller gets is SQLAlchemy's.
            numbered = self._numbered and not alone
            one = self._insert.numbered(rows) if numbered else self._insert.statements(rows)
            if len(one) == 1:
                self._write_one(one[0], rows, writer, numbered=numbered)
                return
            with self.db.write_connection() as connection:  # rows of several shapes
                self._in_transaction(connection, rows)
            return
        if writer.connection is None:
            writer.connection = self.db.engine.connect()
        try:
            with self.db.write_on(writer.connection) as connection:
                self._in_transaction(connection, rows)
        except BaseException:
            writer.drop()  # whatever state it was left in, the next write starts anew
            raise

    def _in_transaction(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        self._insert.execute(connection, rows)
        if self.before_commit is not None:
            self.before_commit(rows)

    def _write_one(
        self,
        statement: tuple[str, Any],
        rows: list[dict[str, Any]],
        writer: _Writer,
        *,
        numbered: bool,
    ) -> None:
        """The group as one statement in autocommit: PostgreSQL runs it as its own transaction
        and answers only once that has committed (``synchronous_commit`` on: once its WAL is
        flushed), so the group is durable, all of it or none, after one round trip."""
        if self.before_commit is not None:
            self.before_commit(rows)  # before anything is sent: the group not yet committed
        if writer.connection is None:
            connection = self.db.engine.connect()
            connection.execution_options(isolation_level="AUTOCOMMIT")
            writer.connection = connection
        connection = writer.connection
        try:
            if numbered:  # psycopg's own cursor, in autocommit like its connection
                raw = cast(PgConnection[Any], connection.connection.driver_connection)
                if not raw.autocommit:  # it would open a transaction nobody commits
                    raise RuntimeError("the group commit's connection is not in autocommit")
                with RawCursor(raw) as cursor:
                    cursor.execute(*statement)
            else:
                with connection.begin():  # SQLAlchemy's bookkeeping: no BEGIN is sent
                    connection.exec_driver_sql(*statement)
        except BaseException:
            if numbered:  # SQLAlchemy saw no error: it would pool a broken connection again
                connection.invalidate()
            writer.drop()
            raise
