"""A dead letter written straight to the database, as a failed deletion leaves one."""

from __future__ import annotations

from datetime import timedelta

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow


def add_dead_letter(
    db: Database,
    key: str,
    *,
    attempts: int = 1,
    error: str = "InternalError: injected",
    due_in: timedelta = timedelta(hours=6),
) -> None:
    """Record a failed deletion of ``key``, tried ``attempts`` times, next due in ``due_in``."""
    now = utcnow()
    with db.session() as session:
        session.add(
            MediaDeletionDeadLetter(
                storage_key=key,
                error_message=error,
                attempts=attempts,
                created_at=now,
                last_attempted_at=now,
                next_attempt_at=now + due_in,
            )
        )
