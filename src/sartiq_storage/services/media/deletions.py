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

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import (
    MediaDeletionDeadLetter,
    MediaDeletionOutbox,
    MediaResource,
    utcnow,
)
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.services import failpoints

LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
MAX_AUTOMATIC_ATTEMPTS = 12
READ_ONLY_PREFIXES = ("images/", "shooting_looks/")


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


def enqueue(
    session: Session, keys: Iterable[str], reason: str, *, not_before: datetime | None = None
) -> list[MediaDeletionOutbox]:
    """Record deletions inside the caller's transaction; they run after it commits."""
    rows = [
        MediaDeletionOutbox(
            id=uuid.uuid4(), storage_key=key, reason=reason, not_before=not_before or utcnow()
        )
        for key in dict.fromkeys(keys)
    ]
    session.add_all(rows)
    return rows


@dataclass(slots=True)
class DrainReport:
    deleted: list[str] = field(default_factory=list)
    kept_referenced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def merge(self, other: DrainReport) -> None:
        self.deleted += other.deleted
        self.kept_referenced += other.kept_referenced
        self.failed.update(other.failed)


class DeletionQueue:
    """Runs the outbox and the dead letters against one store."""

    def __init__(self, db: Database, store: ObjectStore) -> None:
        self.db = db
        self.store = store

    def _referenced(self, session: Session, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        rows = session.scalars(
            select(MediaResource.storage_key).where(MediaResource.storage_key.in_(keys))
        )
        return set(rows)

    def delete_now(self, rows: list[tuple[object, str]]) -> DrainReport:
        """Post-commit fast path for rows this process just wrote: no claim step.

        Safe without a lease: deleting an object twice is harmless, and a crash before the
        rows are removed leaves them for the worker to redo.
        """
        keys = list(dict.fromkeys(key for _, key in rows))
        report = self._delete(keys, kind="outbox")
        with self.db.session() as session:
            session.execute(
                delete(MediaDeletionOutbox).where(
                    MediaDeletionOutbox.id.in_([row_id for row_id, _ in rows])
                )
            )
        return report

    def drain(
        self,
        ids: Iterable[object] | None = None,
        *,
        limit: int = 500,
        now: datetime | None = None,
    ) -> DrainReport:
        """Delete due outbox objects (only ``ids`` when given); failures become dead letters."""
        now = now or utcnow()
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

    def _delete(self, keys: list[str], *, kind: str) -> DrainReport:
        report = DrainReport()
        with self.db.session() as session:
            # Legacy objects are read-only (never written, never deleted) whatever asks.
            referenced = self._referenced(session, keys) | {
                k for k in keys if k.startswith(READ_ONLY_PREFIXES)
            }
            lettered = set(
                session.scalars(
                    select(MediaDeletionDeadLetter.storage_key).where(
                        MediaDeletionDeadLetter.storage_key.in_(keys)
                    )
                )
            )
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
            return report  # nothing to record: spare a write transaction
        with self.db.session() as session:
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
    ) -> DrainReport:
        """Retry due dead letters (or the named ones); success removes them."""
        now = now or utcnow()
        with self.db.session() as session:
            query = select(MediaDeletionDeadLetter).limit(limit)
            if keys is not None:
                query = query.where(MediaDeletionDeadLetter.storage_key.in_(list(keys)))
            else:
                query = query.where(MediaDeletionDeadLetter.next_attempt_at <= now)
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
