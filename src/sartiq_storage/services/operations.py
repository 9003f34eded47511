"""Operator read-outs and actions shared by the CLI and the HTTP console.

Dead letters (list, retry now), the last orphan report, and lifecycle drift: thin layers over
``media/deletions.py``, ``maintenance.py`` and ``lifecycle.py`` so both interfaces answer the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.services import maintenance
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.lifecycle import drift_lines, plan
from sartiq_storage.services.media.deletions import MAX_AUTOMATIC_ATTEMPTS, DeletionQueue

_FAR_FUTURE = timedelta(days=3650)
"""``retry_now`` evaluates the schedule this far ahead: every letter is due."""


class DeadLetter(BaseModel):
    """One failed deletion, as both the CLI's ``--json`` and the HTTP API show it."""

    storage_key: str
    attempts: int
    exhausted: bool = Field(description="Past its automatic retries: only a manual retry runs")
    error_message: str
    created_at: datetime
    last_attempted_at: datetime
    next_attempt_at: datetime


class DeadLetterList(BaseModel):
    """``deadletters list --json`` and ``GET /api/v1/operations/dead-letters``."""

    items: list[DeadLetter]
    total: int


class RetryReport(BaseModel):
    """``deadletters retry --json`` and ``POST /api/v1/operations/dead-letters/retry``."""

    deleted: list[str]
    kept_referenced: list[str] = Field(description="Still used by a resource: kept, letter gone")
    failed: dict[str, str] = Field(description="Still failing (rescheduled), with the error")


def dead_letters(db: Database, *, limit: int | None = 500) -> DeadLetterList:
    """The oldest ``limit`` dead letters (all when None), and how many there are in all."""
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(MediaDeletionDeadLetter)) or 0
        rows = session.scalars(
            select(MediaDeletionDeadLetter)
            .order_by(MediaDeletionDeadLetter.created_at, MediaDeletionDeadLetter.storage_key)
            .limit(limit)
        )
        letters = [
            DeadLetter(
                storage_key=row.storage_key,
                attempts=row.attempts,
                exhausted=row.attempts >= MAX_AUTOMATIC_ATTEMPTS,
                error_message=row.error_message,
                created_at=row.created_at,
                last_attempted_at=row.last_attempted_at,
                next_attempt_at=row.next_attempt_at,
            )
            for row in rows
        ]
    return DeadLetterList(items=letters, total=total)


def retry_now(queue: DeletionQueue, keys: Sequence[str] | None = None) -> RetryReport:
    """Retry dead letters now, whatever their schedule: the named ones, or all of them
    (exhausted letters included). Success removes a letter; failure reschedules it."""
    if keys:
        report = queue.retry_dead_letters(keys=list(keys), limit=max(len(keys), 1))
    else:
        report = queue.retry_dead_letters(include_exhausted=True, due_before=utcnow() + _FAR_FUTURE)
    return RetryReport(
        deleted=report.deleted, kept_referenced=report.kept_referenced, failed=report.failed
    )


def last_orphan_report(db: Database) -> dict[str, Any] | None:
    """The last orphan scan's report (``_finished_at`` and ``_applied`` added), if any."""
    return maintenance.last_report(db, "orphans")


def lifecycle_drift(context: StorageContext) -> dict[str, Any]:
    """The bucket's lifecycle and CORS rules against the policy, with one line per drift."""
    result = plan(context.store, policy_for(context.settings), context.settings.WEB_APP_ORIGINS)
    return {**result.as_dict(), "drift": drift_lines(result)}
