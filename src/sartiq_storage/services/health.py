"""Storage health: the invariants worth watching, read cheaply (counts and last reports)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from sartiq_storage.adapters.db.models import (
    MediaDeletionDeadLetter,
    MediaDeletionOutbox,
    UploadIntent,
    utcnow,
)
from sartiq_storage.services import maintenance
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.media.deletions import COUNTERS, MAX_AUTOMATIC_ATTEMPTS


def storage_health(context: StorageContext) -> dict[str, Any]:
    now = utcnow()
    db = context.db
    with db.session() as session:
        letters = session.scalar(select(func.count()).select_from(MediaDeletionDeadLetter)) or 0
        exhausted = (
            session.scalar(
                select(func.count())
                .select_from(MediaDeletionDeadLetter)
                .where(MediaDeletionDeadLetter.attempts >= MAX_AUTOMATIC_ATTEMPTS)
            )
            or 0
        )
        oldest = session.scalar(select(func.min(MediaDeletionDeadLetter.created_at)))
        outbox = session.scalar(select(func.count()).select_from(MediaDeletionOutbox)) or 0
        unclaimed_open = (
            session.scalar(
                select(func.count())
                .select_from(UploadIntent)
                .where(UploadIntent.claimed_at.is_(None), UploadIntent.expires_at > now)
            )
            or 0
        )
        unclaimed_expired = (
            session.scalar(
                select(func.count())
                .select_from(UploadIntent)
                .where(UploadIntent.claimed_at.is_(None), UploadIntent.expires_at <= now)
            )
            or 0
        )
    scan = maintenance.last_report(db, "orphans") or {}
    sweep = maintenance.last_report(db, "sweep") or {}
    status = "ok"
    if exhausted or letters > 1000:
        status = "degraded"
    return {
        "status": status,
        "backend": context.settings.backend.value,
        "dead_letters": {
            "count": letters,
            "exhausted": exhausted,
            "oldest_age_seconds": (now - oldest).total_seconds() if oldest else None,
        },
        "outbox_pending": outbox,
        "unclaimed_uploads": {"url_valid": unclaimed_open, "url_expired": unclaimed_expired},
        "temp_past_retention": sweep.get("expired", sweep.get("expired_objects")),
        "last_sweep": sweep or None,
        "orphans": {
            "objects": scan.get("orphan_objects"),
            "missing_objects": scan.get("missing_objects"),
            "unattached_resources": scan.get("unattached_resources"),
            "scanned_at": scan.get("_finished_at"),
        },
        "deletions": {"done": COUNTERS.deleted, "failed": COUNTERS.failed},
    }
