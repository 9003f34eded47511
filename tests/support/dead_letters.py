"""A dead letter written straight to the database, as a failed deletion leaves one."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.services.context import StorageContext


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


def dead_letter(context: StorageContext, *, attempts: int = 1, stored: bool = True) -> str:
    """A failed deletion of an object nothing references (the object still there)."""
    key = f"media/{uuid.uuid4()}/file.png"
    if stored:
        context.store.put(key, io.BytesIO(b"\x89PNG orphan"), content_type="image/png")
    add_dead_letter(context.db, key, attempts=attempts)
    return key
