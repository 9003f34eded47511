"""Deferred, post-commit deletion: the outbox, and the dead letters it falls back to.

A change that makes an object unnecessary writes an outbox row in the *same* transaction. Only
after that commit does anything delete the object, so a rollback never loses a file something
still uses, and a crash never forgets a deletion (the row is still there).

Draining claims due rows with a short lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
write lock on SQLite), deletes the objects with one batch call, then removes the rows. A key
the batch could not delete becomes a dead letter, retried with capped, jittered exponential
backoff. A key that some resource row references is never deleted.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import (
    MediaDeletionDeadLetter,
    MediaDeletionOutbox,
    MediaResource,
    table_of,
    utcnow,
)
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.services import failpoints

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
MAX_AUTOMATIC_ATTEMPTS = 12
ACK_BATCH = 64
"""Outbox rows whose objects are gone are removed in batches of this many (or on flush)."""
ACK_MAX_AGE_SECONDS = 2.0
ACK_RETRY_CAP_SECONDS = 60.0
READ_ONLY_PREFIXES = ("images/", "shooting_looks/")
REFERENCEABLE_PREFIXES = ("media/", *READ_ONLY_PREFIXES)
"""The only prefixes a resource row's ``storage_key`` can be under."""


@dataclass(slots=True)
class Counters:
    """Deletions done and failed by this process (exported as Prometheus counters)."""

    deleted: int = 0
    failed: int = 0


COUNTERS = Counters()


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Full-jitter exponential backoff: uniform in [cap/2, cap] of ``base·2^(attempts-1)``."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    half: timedelta = ceiling / 2
    return half + half * rng()


_INSERT_OUTBOX = insert(table_of(MediaDeletionOutbox))
_RESOURCES = table_of(MediaResource)
_LETTERS = table_of(MediaDeletionDeadLetter)
_KEY_STATUS = union_all(
    select(_RESOURCES.c.storage_key, literal("referenced")).where(
        _RESOURCES.c.storage_key.in_(bindparam("b_refs", expanding=True))
    ),
    select(_LETTERS.c.storage_key, literal("lettered")).where(
        _LETTERS.c.storage_key.in_(bindparam("b_letters", expanding=True))
    ),
)
"""Which of some keys a resource still references, and which have dead letters: one query."""


def enqueue(
    session: Session, keys: Iterable[str], reason: str, *, not_before: datetime | None = None
) -> list[tuple[uuid.UUID, str]]:
    """Record deletions inside the caller's transaction; they run after it commits.

    ``not_before`` in the future leases the rows to the caller, who deletes right after its
    commit; the worker takes them only if that never happens (a crash). Returns each row's
    ``(id, storage_key)``: the handle :meth:`DeletionQueue.delete_now` takes.
    """
    now = utcnow()
    handles = [(uuid.uuid4(), key) for key in dict.fromkeys(keys)]
    if handles:  # one INSERT, not a flush of the unit of work
        session.connection().execute(
            _INSERT_OUTBOX,
            [
                {
                    "id": row_id,
                    "storage_key": key,
                    "reason": reason,
                    "created_at": now,
                    "not_before": not_before or now,
                }
                for row_id, key in handles
            ],
        )
    return handles


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """What must stop or follow a deletion: keys still referenced, keys with dead letters."""

    referenced: frozenset[str]
    lettered: frozenset[str]


def key_status(connection: Connection, keys: list[str]) -> KeyStatus:
    """One query; legacy objects count as referenced (read-only, never deleted)."""
    found = list(connection.execute(_KEY_STATUS, {"b_refs": keys, "b_letters": keys}))
    referenced = {key for key, kind in found if kind == "referenced"}
    referenced |= {k for k in keys if k.startswith(READ_ONLY_PREFIXES)}
    lettered = {key for key, kind in found if kind == "lettered"}
    return KeyStatus(frozenset(referenced), frozenset(lettered))


def unreferenceable(keys: list[str]) -> KeyStatus | None:
    """The status of keys no resource row can name, known without a query; else None.

    Resource rows name only ``media/`` keys and read-only legacy keys, so an upload under
    ``temp/`` or a compute result is never referenced. A dead letter such a key might have is
    left to its own retry, which finds the key gone and clears the letter.
    """
    if any(k.startswith(REFERENCEABLE_PREFIXES) for k in keys):
        return None
    return KeyStatus(frozenset(), frozenset())


@dataclass(slots=True)
class DrainReport:
    deleted: list[str] = field(default_factory=list)
    kept_referenced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def merge(self, other: DrainReport) -> None:
        self.deleted += other.deleted
        self.kept_referenced += other.kept_referenced
        self.failed.update(other.failed)


def _flush_quietly(queue_ref: weakref.ref[DeletionQueue]) -> None:
    """The ack timer's work: flush, if the queue is still in use; a failure is retried."""
    queue = queue_ref()
    if queue is None:
        return
    try:
        queue.flush_acks()
    except Exception as exc:  # noqa: BLE001 - the rows stay pending and are retried
        logger.warning("removing done outbox rows failed (%s); they will be retried", exc)


class DeletionQueue:
    """Runs the outbox and the dead letters against one store."""

    def __init__(self, db: Database, store: ObjectStore) -> None:
        self.db = db
        self.store = store
        self._acks: list[object] = []
        self._acks_lock = threading.Lock()
        self._failed_flushes = 0

    def _acknowledge(self, row_ids: list[object]) -> None:
        """Remove done outbox rows, in batches: one transaction per ingest would cost as
        much as the ingest's own. Until removed, a row only leads to a second delete of a
        key that is already gone, which is harmless, and its lease keeps the worker off it.
        """
        with self._acks_lock:
            self._pend(row_ids)
            due = len(self._acks) >= ACK_BATCH
        if due:
            self.flush_acks()

    def _pend(self, row_ids: list[object]) -> None:
        """Add rows to remove (holding the lock). A quiet spell must not leave them past their
        lease (the worker would redo them): the first pending row arms a flush this soon,
        later and later while flushes keep failing (the database is down).

        The timer holds the queue weakly: a queue nobody uses any more (a discarded service,
        its database gone) is not kept alive, retrying forever, by its own timer.
        """
        if not self._acks:
            backoff = 2 ** min(self._failed_flushes, 8)
            delay = min(ACK_MAX_AGE_SECONDS * backoff, ACK_RETRY_CAP_SECONDS)
            timer = threading.Timer(delay, _flush_quietly, (weakref.ref(self),))
            timer.daemon = True
            timer.start()
        self._acks.extend(row_ids)

    def flush_acks(self) -> None:
        """Remove every acknowledged outbox row now (on close, and before a drain)."""
        with self._acks_lock:
            ids, self._acks = self._acks, []
        if not ids:
            return
        try:
            with self.db.session() as session:
                session.execute(delete(MediaDeletionOutbox).where(MediaDeletionOutbox.id.in_(ids)))
        except BaseException:
            with self._acks_lock:
                self._failed_flushes += 1
                self._pend(ids)  # kept, and a flush armed again if none is
            raise
        with self._acks_lock:
            self._failed_flushes = 0

    def delete_now(
        self, rows: list[tuple[object, str]], status: KeyStatus | None = None
    ) -> DrainReport:
        """Post-commit fast path for rows this process just wrote: no claim step.

        Safe without a lease: deleting an object twice is harmless, and a crash before the
        rows are removed leaves them for the worker to redo. ``status``, when the caller read
        it in the transaction that wrote the rows, spares a read here.
        """
        keys = list(dict.fromkeys(key for _, key in rows))
        return self._delete(
            keys, kind="outbox", outbox_ids=[row_id for row_id, _ in rows], status=status
        )

    def after_commit(self, rows: list[tuple[object, str]], status: KeyStatus | None = None) -> None:
        """Run an operation's deletions right after its commit; a failure is the worker's.

        The change is committed, so the caller succeeded: a failing or crashing delete must
        not turn that into an error. The outbox rows stay (leased) and are retried.
        """
        if not rows:
            return
        try:
            self.delete_now(rows, status)
        except Exception:
            logger.exception("post-commit deletion failed; the outbox will retry it")

    def drain(
        self,
        ids: Iterable[object] | None = None,
        *,
        limit: int = 500,
        now: datetime | None = None,
    ) -> DrainReport:
        """Delete due outbox objects (only ``ids`` when given); failures become dead letters."""
        now = now or utcnow()
        self.flush_acks()
        with self.db.session() as session:
            query = (
                select(MediaDeletionOutbox)
                .where(MediaDeletionOutbox.not_before <= now)
                .order_by(MediaDeletionOutbox.created_at)
                .limit(limit)
            )
            if ids is not None:
                query = query.where(MediaDeletionOutbox.id.in_(list(ids)))
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            for row in rows:
                row.not_before = now + LEASE
            claimed = [(row.id, row.storage_key) for row in rows]
        if not claimed:
            return DrainReport()
        keys = list(dict.fromkeys(key for _, key in claimed))
        report = self._delete(keys, kind="outbox")
        with self.db.session() as session:
            session.execute(
                delete(MediaDeletionOutbox).where(
                    MediaDeletionOutbox.id.in_([row_id for row_id, _ in claimed])
                )
            )
        return report

    def _delete(
        self,
        keys: list[str],
        *,
        kind: str,
        outbox_ids: list[object] | None = None,
        status: KeyStatus | None = None,
    ) -> DrainReport:
        """Delete unreferenced ``keys``; record failures as dead letters.

        ``outbox_ids`` are the rows behind the keys (the post-commit fast path): removed in
        the dead-letter transaction when there is one, else acknowledged in a batch.
        """
        report = DrainReport()
        if status is None:
            with self.db.read_connection() as connection:
                status = key_status(connection, keys)
        referenced, lettered = status.referenced, status.lettered
        report.kept_referenced = [k for k in keys if k in referenced]
        to_delete = [k for k in keys if k not in referenced]
        failpoints.hit(f"{kind}.before_delete")
        failures = {f.key: f.error for f in self.store.delete_many(to_delete)} if to_delete else {}
        failpoints.hit(f"{kind}.after_delete")
        report.deleted = [k for k in to_delete if k not in failures]
        report.failed = failures
        COUNTERS.deleted += len(report.deleted)
        COUNTERS.failed += len(failures)
        done = report.deleted + report.kept_referenced
        if not failures and not lettered.intersection(done):
            if outbox_ids:
                self._acknowledge(outbox_ids)
            return report  # nothing to record: spare a write transaction
        with self.db.session() as session:
            if outbox_ids:
                session.execute(
                    delete(MediaDeletionOutbox).where(MediaDeletionOutbox.id.in_(outbox_ids))
                )
            now = utcnow()
            for key, error in failures.items():
                letter = session.scalar(
                    select(MediaDeletionDeadLetter).where(
                        MediaDeletionDeadLetter.storage_key == key
                    )
                )
                if letter is None:
                    session.add(
                        MediaDeletionDeadLetter(
                            storage_key=key,
                            error_message=error[:4000],
                            attempts=1,
                            created_at=now,
                            last_attempted_at=now,
                            next_attempt_at=now + backoff(1),
                        )
                    )
                else:
                    letter.attempts += 1
                    letter.error_message = error[:4000]
                    letter.last_attempted_at = now
                    letter.next_attempt_at = now + backoff(letter.attempts)
            if done:
                session.execute(
                    delete(MediaDeletionDeadLetter).where(
                        MediaDeletionDeadLetter.storage_key.in_(done)
                    )
                )
        return report

    def retry_dead_letters(
        self,
        *,
        limit: int = 500,
        include_exhausted: bool = False,
        keys: Iterable[str] | None = None,
        now: datetime | None = None,
        due_before: datetime | None = None,
    ) -> DrainReport:
        """Retry due dead letters (or the named ones); success removes them.

        ``due_before`` picks the letters due by then (default ``now``); the lease on the ones
        taken always counts from ``now``, so a retry that dies midway is retried soon.
        """
        now = now or utcnow()
        with self.db.session() as session:
            query = select(MediaDeletionDeadLetter).limit(limit)
            if keys is not None:
                query = query.where(MediaDeletionDeadLetter.storage_key.in_(list(keys)))
            else:
                query = query.where(MediaDeletionDeadLetter.next_attempt_at <= (due_before or now))
                if not include_exhausted:
                    query = query.where(MediaDeletionDeadLetter.attempts < MAX_AUTOMATIC_ATTEMPTS)
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            letters = list(session.scalars(query))
            ids = [letter.id for letter in letters]
            claimed = [letter.storage_key for letter in letters]
            if ids:
                session.execute(
                    update(MediaDeletionDeadLetter)
                    .where(MediaDeletionDeadLetter.id.in_(ids))
                    .values(next_attempt_at=now + LEASE)
                )
        if not claimed:
            return DrainReport()
        return self._delete(claimed, kind="deadletter")

    def run_once(self, *, now: datetime | None = None) -> DrainReport:
        """One pass: drain the whole due outbox, then the due dead letters."""
        report = DrainReport()
        while True:
            batch = self.drain(now=now)
            report.merge(batch)
            if not (batch.deleted or batch.failed or batch.kept_referenced):
                break
        report.merge(self.retry_dead_letters(now=now))
        return report
