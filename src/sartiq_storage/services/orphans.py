"""The orphan scanner: the bucket and the database, compared in both directions.

1. **Objects with no row** under ``media/`` older than the grace period: scheduled for
   deletion through the outbox, which re-checks, just before deleting, that no row references
   the key (an ingest that copied but has not committed yet is far younger than the grace).
2. **Rows whose object is missing** (under any prefix): reported for healing, never dropped.
3. **Resources with no attachments**, not protected, detached longer than the grace: deleted
   by the conditional statement of ``MediaResourceService.delete_if_orphaned``.

Directions 1 and 2 are one **sorted merge** of the store listing (keys come in byte order)
and the rows ordered the same way (``COLLATE "C"`` on PostgreSQL; SQLite compares bytes), both
streamed, so memory stays bounded whatever the number of keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, utcnow
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.keys import MediaKey, parse_key
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.deletions import enqueue
from sartiq_storage.services.media.service import MediaResourceService

SCANNED_PREFIXES = ("media/", "images/", "shooting_looks/")
"""Where rows point. Only ``media/{uuid}/file.{ext}`` objects without a row are ours to delete."""
SAMPLE = 100
_PAGE = 1000


@dataclass(slots=True)
class OrphanReport:
    started_at: str
    applied: bool
    grace_hours: float
    objects_scanned: int = 0
    rows_scanned: int = 0
    orphan_objects: int = 0
    orphan_bytes: int = 0
    orphan_objects_too_young: int = 0
    orphan_object_sample: list[str] = field(default_factory=list)
    foreign_objects: int = 0
    """Objects under ``media/`` not shaped ``media/{uuid}/file.{ext}``: no ingest wrote them
    (a dataset repository made there, say), so they are never taken for orphans."""
    missing_objects: int = 0
    missing_object_sample: list[dict[str, str]] = field(default_factory=list)
    unattached_resources: int = 0
    unattached_deleted: int = 0
    protected_unattached: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(db: Database, prefix: str) -> Iterator[tuple[str, uuid.UUID]]:
    """``(storage_key, id)`` of rows under ``prefix``, in byte order, a page at a time."""
    # Byte order everywhere: PostgreSQL's default collation would sort "a-b" after "ab/".
    key = MediaResource.storage_key.collate("C") if db.is_postgres else MediaResource.storage_key
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    after: str | None = None
    while True:
        with db.session() as session:
            query = (
                select(MediaResource.storage_key, MediaResource.id)
                .where(key >= prefix, key < upper)
                .order_by(key)
                .limit(_PAGE)
            )
            if after is not None:
                query = query.where(key > after)
            page = [(k, i) for k, i in session.execute(query)]
        if not page:
            return
        yield from page
        after = page[-1][0]


def _is_media_object(key: str) -> bool:
    """Whether ``key`` is ``media/{uuid}/file.{ext}``, the only shape ingest writes."""
    try:
        return isinstance(parse_key(key), MediaKey)
    except InvalidKeyError:
        return False


def merge(
    objects: Iterator[ObjectInfo], rows: Iterator[tuple[str, uuid.UUID]]
) -> Iterator[tuple[ObjectInfo | None, tuple[str, uuid.UUID] | None]]:
    """Pair two key-ordered streams: (object, row), (object, None) or (None, row)."""
    obj = next(objects, None)
    row = next(rows, None)
    while obj is not None or row is not None:
        if row is None or (obj is not None and obj.key < row[0]):
            yield obj, None
            obj = next(objects, None)
        elif obj is None or row[0] < obj.key:
            yield None, row
            row = next(rows, None)
        else:
            yield obj, row
            obj, row = next(objects, None), next(rows, None)


class OrphanScanner:
    def __init__(self, db: Database, store: ObjectStore, media: MediaResourceService) -> None:
        self.db = db
        self.store = store
        self.media = media

    def scan(
        self,
        *,
        grace: timedelta,
        apply: bool = False,
        now: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> OrphanReport:
        now = now or utcnow()
        cutoff = now - grace
        report = OrphanReport(now.isoformat(), apply, grace.total_seconds() / 3600)
        pending: list[str] = []
        for prefix in SCANNED_PREFIXES:
            for obj, row in merge(self.store.list(prefix), _rows(self.db, prefix)):
                if obj is not None:
                    report.objects_scanned += 1
                    if progress is not None and report.objects_scanned % 1000 == 0:
                        progress(1000)
                if row is not None:
                    report.rows_scanned += 1
                if obj is not None and row is None and prefix == "media/":
                    if not _is_media_object(obj.key):
                        report.foreign_objects += 1  # not ours: never deleted
                        continue
                    if obj.last_modified > cutoff:
                        report.orphan_objects_too_young += 1
                        continue
                    report.orphan_objects += 1
                    report.orphan_bytes += obj.size
                    if len(report.orphan_object_sample) < SAMPLE:
                        report.orphan_object_sample.append(obj.key)
                    if apply:
                        pending.append(obj.key)
                        if len(pending) >= _PAGE:
                            self._schedule(pending)
                            pending = []
                elif obj is None and row is not None:
                    report.missing_objects += 1
                    if len(report.missing_object_sample) < SAMPLE:
                        report.missing_object_sample.append({"id": str(row[1]), "key": row[0]})
        if pending:
            self._schedule(pending)
        self._unattached(report, now, grace, apply)
        return report

    def _schedule(self, keys: list[str]) -> None:
        failpoints.hit("scan.before_schedule")
        with self.db.session() as session:
            enqueue(session, keys, "orphan-object")
        failpoints.hit("scan.scheduled")

    def _unattached(
        self, report: OrphanReport, now: datetime, grace: timedelta, apply: bool
    ) -> None:
        cutoff = now - grace
        after: uuid.UUID | None = None
        while True:
            with self.db.session() as session:
                query = (
                    select(MediaResource.id, MediaResource.protected)
                    .where(
                        MediaResource.detached_at.is_not(None),
                        MediaResource.detached_at <= cutoff,
                    )
                    .order_by(MediaResource.id)
                    .limit(_PAGE)
                )
                if after is not None:
                    query = query.where(MediaResource.id > after)
                page = list(session.execute(query))
            if not page:
                return
            for resource_id, protected in page:
                if protected:
                    report.protected_unattached += 1
                    continue
                report.unattached_resources += 1
                failpoints.hit("scan.before_unattached_delete")
                if apply and self.media.delete_if_orphaned(resource_id, grace=grace, now=now):
                    report.unattached_deleted += 1
            after = page[-1][0]
