"""The orphan scanner: the bucket and the database, compared in both directions.

1. **Objects with no row** under ``media/`` older than the grace period: scheduled for
   deletion through the outbox, which re-checks, just before deleting, that no row references
   the key (an ingest that copied but has not committed yet is far younger than the grace).
2. **Rows whose object is missing** (under any prefix): reported for healing, never dropped.
3. **Resources with no attachments**, not protected, detached longer than the grace: deleted
   by the conditional statement of ``MediaResourceService.delete_if_orphaned``.

Directions 1 and 2 are one **sorted comparison** of the store listing (keys come in byte
order) and the row keys ordered the same way (``COLLATE "C"`` on PostgreSQL; SQLite compares
bytes), both streamed a run at a time, the rows read a page ahead on a thread while the store
lists, so memory stays bounded whatever the number of keys.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import operator
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

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
_ROW_PAGE = 10_000
"""Keys read per query: ten thousand keys are about a megabyte."""
_CHUNK = 500
"""Listed objects compared at once with the row keys of the same range: fewer than the
collector's first threshold (700), so a run's listing entries die young; ten thousand
outlived two generations and cost the full collections a quarter of the scan."""
_SEPARATOR = "\n"
"""Between the keys of an aggregated page: a control character, which no valid key holds."""


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


def _key_pages(db: Database, prefix: str) -> Iterator[list[str]]:
    """``storage_key`` of the rows under ``prefix``, in byte order, a page at a time.

    Keys only, and each page as **one aggregated string** (``group_concat``/``string_agg``)
    split in Python: SQLite's driver gives up and takes back the GIL for every row it steps,
    so a per-row read on the prefetch thread waited out the listing thread's switch interval
    row after row (a page of rows cost more than the whole plain read, ``docs/benchmarks.md``);
    one aggregate is one step, computed with the GIL released. The ids of missing objects'
    rows are looked up for the report's sample alone. Short keyset-paged reads, never one
    transaction held open for the whole scan.
    """
    # Byte order everywhere: PostgreSQL's default collation would sort "a-b" after "ab/".
    key = MediaResource.storage_key.collate("C") if db.is_postgres else MediaResource.storage_key
    concat = func.string_agg if db.is_postgres else func.group_concat
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    after: str | None = None
    while True:
        # One lower bound, never both: given ``key >= prefix AND key > after`` SQLite seeks
        # to ``prefix`` and filters every earlier page again, a scan quadratic in the pages.
        lower = key >= prefix if after is None else key > after
        keys = (
            select(MediaResource.storage_key.label("k"))
            .where(lower, key < upper)
            .order_by(key)
            .limit(_ROW_PAGE)
            .subquery()
        )
        query = select(func.count(), concat(keys.c.k, _SEPARATOR))
        with db.engine.connect() as connection:
            count, joined = connection.execute(query).one()
            page = joined.split(_SEPARATOR) if count else []
            if len(page) != count:  # a key holding the separator (no valid key does)
                plain = select(keys.c.k)
                page = list(connection.execute(plain).scalars())
        if not page:
            return
        page.sort()  # the aggregate's order is unspecified; str order is byte order
        yield page
        after = page[-1]


def _prefetched_pages(pages: Iterator[list[str]]) -> Iterator[list[str]]:
    """``pages``, read one page ahead on a thread while the caller consumes the
    store's listing: the database's waits overlap the store's (both release the GIL)."""
    ahead: queue.Queue[list[str] | Exception | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    with contextlib.suppress(queue.Full):
                        ahead.put(page, timeout=0.1)
                        break
                if stop.is_set():
                    return
            ahead.put(None)
        except Exception as exc:  # noqa: BLE001 - re-raised where the keys are consumed
            ahead.put(exc)

    reader = threading.Thread(target=read, name="orphan-scan-rows", daemon=True)
    reader.start()
    try:
        while (page := ahead.get()) is not None:
            if isinstance(page, Exception):
                raise page
            yield page
    finally:
        stop.set()  # an abandoned scan stops the reader at its next page
        reader.join()


def _ids_of(db: Database, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    with db.session() as session:
        found = session.execute(
            select(MediaResource.storage_key, MediaResource.id).where(
                MediaResource.storage_key.in_(keys)
            )
        )
        return {key: str(resource_id) for key, resource_id in found}


def _is_media_object(key: str) -> bool:
    """Whether ``key`` is ``media/{uuid}/file.{ext}``, the only shape ingest writes."""
    try:
        return isinstance(parse_key(key), MediaKey)
    except InvalidKeyError:
        return False


@dataclass(slots=True)
class Chunk:
    """A run of the listing and the row keys in the same key range, compared."""

    objects: int
    rows: int
    lonely: list[ObjectInfo]
    """Objects in the run with no row."""
    missing: list[str]
    """Row keys in the run with no object."""


def compare(
    objects: Iterator[ObjectInfo], pages: Iterator[list[str]], *, size: int = 0
) -> Iterator[Chunk]:
    """Two key-ordered streams compared a run at a time.

    Each run of ``size`` (:data:`_CHUNK`) listed objects is matched against the row keys up
    to its last key with set operations, not pair by pair: a Python step per key cost more
    than the listing itself (``docs/benchmarks.md``). Memory is one run and one page, whatever the
    totals.
    """
    rows: list[str] = []
    at = 0
    more = True
    key_of = operator.attrgetter("key")
    while chunk := list(itertools.islice(objects, size or _CHUNK)):
        keys = list(map(key_of, chunk))  # the one step a key takes, in C
        bound = keys[-1]
        while more and (at == len(rows) or rows[-1] <= bound):
            page = next(pages, None)
            if page is None:
                more = False
            else:
                rows, at = rows[at:] + page, 0
        end = bisect.bisect_right(rows, bound, at)
        in_range = rows[at:end]
        at = end
        if keys == in_range:
            yield Chunk(len(chunk), len(in_range), [], [])
            continue
        listed = set(keys)
        lonely = [chunk[bisect.bisect_left(keys, k)] for k in sorted(listed.difference(in_range))]
        missing = sorted(set(in_range).difference(listed))
        yield Chunk(len(chunk), len(in_range), lonely, missing)
    rest = rows[at:]
    while True:  # rows past the last object: none of them has one
        if rest:
            yield Chunk(0, len(rest), [], rest)
        page = next(pages, None) if more else None
        if page is None:
            return
        rest = page


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
            rows = _prefetched_pages(_key_pages(self.db, prefix))
            for chunk in compare(self.store.list(prefix), rows):
                report.objects_scanned += chunk.objects
                report.rows_scanned += chunk.rows
                if progress is not None and chunk.objects:
                    progress(chunk.objects)
                for obj in chunk.lonely if prefix == "media/" else ():
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
                report.missing_objects += len(chunk.missing)
                room = SAMPLE - len(report.missing_object_sample)
                report.missing_object_sample += [{"id": "", "key": k} for k in chunk.missing[:room]]
        if pending:
            self._schedule(pending)
        ids = _ids_of(self.db, [sample["key"] for sample in report.missing_object_sample])
        for sample in report.missing_object_sample:
            sample["id"] = ids.get(sample["key"], "")
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
