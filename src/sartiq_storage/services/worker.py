"""The background worker: deferred deletions, dead-letter retries and scheduled maintenance.

Every pass runs the outbox and the due dead letters, then whichever scheduled jobs are due
(``maintenance_runs`` says when each last ran, so several workers agree):

* ``sweep``: the retention policy enforced on stores without a lifecycle engine;
* ``orphans``: the orphan scan, applied;
* ``enrich``: metadata and hashes left for later by deferred-enrichment ingests.

Several workers at once are safe. Deletions are claimed row by row (``FOR UPDATE SKIP LOCKED``
on PostgreSQL). Scheduled jobs run under a lock: a PostgreSQL advisory lock per job, or, on
SQLite, one file lock that a single worker holds. A stop request (SIGTERM, SIGINT) is honoured
between steps: the current batch finishes, nothing is left half-claimed for longer than the
outbox lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from sartiq_storage.adapters.db.models import utcnow
from sartiq_storage.core.errors import StorageError
from sartiq_storage.services import maintenance
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.orphans import OrphanScanner

logger = logging.getLogger(__name__)

Job = Callable[[StorageContext], dict[str, Any]]


def _orphans(context: StorageContext) -> dict[str, Any]:
    grace = timedelta(hours=context.settings.ORPHAN_GRACE_HOURS)
    scanner = OrphanScanner(context.db, context.store, context.media)
    return scanner.scan(grace=grace, apply=True).as_dict()


def _enrich(context: StorageContext) -> dict[str, Any]:
    result = Healer(context.db, context.store).heal_incomplete(limit=500)
    return {"checked": result.checked, "fixed": len(result.fixed), "unfixable": result.unfixable}


def _sweep(context: StorageContext) -> dict[str, Any]:
    from sartiq_storage.core.lifecycle import load_policy
    from sartiq_storage.services.lifecycle import sweep

    if not context.settings.embedded:
        return {"skipped": "the bucket's own lifecycle rules enforce retention"}
    policy = load_policy(
        context.settings.ENVIRONMENT.value, context.settings.STORAGE_LIFECYCLE_FILE
    )
    report = sweep(context.store, context.db, policy, now=utcnow(), apply=True)
    as_dict = getattr(report, "as_dict", None)
    return as_dict() if callable(as_dict) else dict(vars(report))


@dataclass(slots=True)
class PassReport:
    deleted: int = 0
    dead_lettered: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped_locked: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, context: StorageContext) -> None:
        self.context = context
        self.stop = threading.Event()
        settings = context.settings
        self.schedule: dict[str, tuple[timedelta, Job]] = {
            "sweep": (timedelta(minutes=settings.WORKER_SWEEP_EVERY_MINUTES), _sweep),
            "orphans": (timedelta(minutes=settings.WORKER_SCAN_EVERY_MINUTES), _orphans),
            "enrich": (timedelta(minutes=settings.WORKER_HEAL_EVERY_MINUTES), _enrich),
        }

    # -- locks -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _job_lock(self, kind: str) -> Iterator[bool]:
        db = self.context.db
        if db.is_postgres:
            key = zlib.crc32(f"sartiq-storage:{kind}".encode())
            with db.engine.connect() as conn:
                got = bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                )
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            return
        path = self.context.settings.data_dir / "worker.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- passes ------------------------------------------------------------------------------

    def run_once(self, *, force: bool = False, only: set[str] | None = None) -> PassReport:
        """One pass: deletions, then every scheduled job that is due (all with ``force``)."""
        report = PassReport()
        deletions = self.context.media.deletions.run_once()
        report.deleted = len(deletions.deleted)
        report.dead_lettered = len(deletions.failed)
        for kind, (every, job) in self.schedule.items():
            if self.stop.is_set():
                break
            if only is not None and kind not in only:
                continue
            if not force and not maintenance.due(self.context.db, kind, every):
                continue
            with self._job_lock(kind) as held:
                if not held:
                    report.skipped_locked.append(kind)
                    continue
                if not force and not maintenance.due(self.context.db, kind, every):
                    continue  # another worker ran it while we waited for the lock
                started = utcnow()
                try:
                    result = job(self.context)
                except StorageError as exc:  # a known failure (store down…): its one line
                    logger.error("scheduled job %s failed: %s", kind, exc)
                    result = {"error": str(exc)}
                except Exception as exc:
                    logger.exception("scheduled job %s failed", kind)
                    result = {"error": str(exc)}
                maintenance.record(
                    self.context.db, kind, result, applied="error" not in result, started_at=started
                )
                report.jobs[kind] = result
        return report

    def run_forever(self, *, poll_seconds: float | None = None) -> None:
        poll = poll_seconds or self.context.settings.WORKER_POLL_SECONDS
        while not self.stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("worker pass failed; retrying after the poll interval")
            self.stop.wait(poll)
