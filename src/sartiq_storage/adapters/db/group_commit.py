"""Group commit: rows from concurrent callers inserted by one writer, a transaction per group.

A presign writes one small row (its upload intent) and must not answer before the row is
durable. One transaction per request spends most of the request in SQLAlchemy's unit of work
and the commit, and on SQLite every writer queues for the one write lock anyway. Here each
caller hands its row to a writer thread and waits; the writer takes every row waiting at that
moment (up to :data:`MAX_GROUP`), inserts them with one ``executemany`` in one transaction,
commits, and only then releases their callers. Rows arriving during a commit form the next
group, so under load groups grow by themselves and with one caller there is no added wait.

If a group's transaction fails, each of its rows is tried again alone, so a bad row fails
only its own caller. A process that dies mid-commit answered none of that group's callers and
its transaction never committed: all of the group or none of it (``tests/hardening``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Table, insert

from sartiq_storage.adapters.db.engine import Database

MAX_GROUP = 256
"""Rows per transaction at most: bounds one commit's time and its statement's size."""

_STOP = object()


class GroupCommitter:
    """Inserts into one table on behalf of many threads; :meth:`insert` returns once the row
    is committed, or raises the error that refused it."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        max_group: int = MAX_GROUP,
        before_commit: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self.max_group = max_group
        self.before_commit = before_commit
        """Called with the group's rows inside its transaction, after the insert, before the
        commit (the services' failpoint)."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.groups = 0
        """Transactions committed (a test and benchmark counter)."""

    def insert(self, row: Mapping[str, Any]) -> None:
        """Queue ``row`` and wait until its group is committed."""
        future: Future[None] = Future()
        self._start()
        self._queue.put((dict(row), future))
        future.result()

    def close(self) -> None:
        """Stop the writer once the rows already queued are committed."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None and not self._closed:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name=f"group-commit-{self.table.name}", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        stop = False
        while not stop:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in group:
                stop = True
                group = [item for item in group if item is not _STOP]
            if group:
                self._commit(group)

    def _commit(self, group: list[tuple[dict[str, Any], Future[None]]]) -> None:
        try:
            self._write([row for row, _ in group])
        except Exception:  # noqa: BLE001 - each row is tried alone below
            for item in group:
                self._settle_alone(item)
            return
        self.groups += 1
        for _, future in group:
            future.set_result(None)

    def _settle_alone(self, item: tuple[dict[str, Any], Future[None]]) -> None:
        row, future = item
        try:
            self._write([row])
        except BaseException as exc:  # noqa: BLE001 - handed to the row's caller
            future.set_exception(exc)
        else:
            self.groups += 1
            future.set_result(None)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.db.write_connection() as connection:
            connection.execute(insert(self.table), rows)
            if self.before_commit is not None:
                self.before_commit(rows)
