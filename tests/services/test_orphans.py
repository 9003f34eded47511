"""The orphan scan: a seeded store and database, exactly the expected changes, then none."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import utcnow
from sartiq_storage.adapters.stores import LocalStore, ObjectInfo, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner, _prefetched_pages, compare
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload

GRACE = timedelta(hours=72)


@pytest.fixture(params=["local", "s3"])
def ostore(request: pytest.FixtureRequest, tmp_path) -> ObjectStore:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")  # type: ignore[no-any-return]


def seed(db: Database, store: ObjectStore) -> dict[str, object]:
    media = MediaResourceService(db, store, UrlResolver(CDN))
    kept = media.ingest(upload(store, image_bytes(seed=1)), product())
    unattached = media.ingest(upload(store, image_bytes(seed=2)), product())
    protected = media.ingest(upload(store, image_bytes(seed=3)), product())
    missing = media.ingest(upload(store, image_bytes(seed=4)), product())
    assert unattached.attachment
    assert protected.attachment
    media.detach(unattached.attachment.id)
    media.detach(protected.attachment.id)
    media.set_protected(protected.resource.id, True)
    store.delete(missing.resource.storage_key)  # a row whose object vanished
    orphan_key = f"media/{uuid.uuid4()}/file.png"
    store.put(orphan_key, b"stray copy")  # an object without a row
    store.put("images/products/p1/product_p1_S_u_cover.png", b"legacy")  # legacy: no row, fine
    return {
        "media": media,
        "kept": kept.resource,
        "unattached": unattached.resource,
        "protected": protected.resource,
        "missing": missing.resource,
        "orphan_key": orphan_key,
    }


def test_scan_reports_then_applies_exactly(db: Database, ostore: ObjectStore) -> None:
    seeded = seed(db, ostore)
    media = seeded["media"]
    assert isinstance(media, MediaResourceService)
    scanner = OrphanScanner(db, ostore, media)
    later = utcnow() + timedelta(hours=100)
    young = scanner.scan(grace=GRACE, apply=True)  # everything is younger than the grace
    assert young.orphan_objects == 0
    assert young.orphan_objects_too_young == 1
    assert young.unattached_deleted == 0
    dry = scanner.scan(grace=GRACE, now=later)
    assert dry.orphan_objects == 1
    assert dry.orphan_object_sample == [seeded["orphan_key"]]
    assert dry.missing_objects == 1
    assert dry.missing_object_sample[0]["id"] == str(seeded["missing"].id)  # type: ignore[attr-defined]
    assert dry.unattached_resources == 1
    assert dry.protected_unattached == 1
    assert ostore.exists(str(seeded["orphan_key"]))  # a dry run changes nothing
    applied = scanner.scan(grace=GRACE, apply=True, now=later)
    media.deletions.run_once(now=later)
    assert applied.unattached_deleted == 1
    assert not ostore.exists(str(seeded["orphan_key"]))
    assert not ostore.exists(seeded["unattached"].storage_key)  # type: ignore[attr-defined]
    assert ostore.exists(seeded["protected"].storage_key)  # type: ignore[attr-defined]
    assert ostore.exists(seeded["kept"].storage_key)  # type: ignore[attr-defined]
    assert ostore.exists("images/products/p1/product_p1_S_u_cover.png")
    again = scanner.scan(grace=GRACE, apply=True, now=later)
    media.deletions.run_once(now=later)
    assert (again.orphan_objects, again.unattached_deleted) == (0, 0)
    assert again.missing_objects == 1  # reported for healing, never dropped


def test_an_orphan_that_gets_a_row_before_deletion_is_kept(db: Database) -> None:
    from sqlalchemy import update

    from sartiq_storage.adapters.db.models import MediaResource
    from sartiq_storage.adapters.stores import MemoryStore

    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), drain_after_commit=False)
    made = media.ingest(upload(store, image_bytes(seed=9)), product())
    stray = f"media/{uuid.uuid4()}/file.png"
    store.put(stray, b"x")
    later = utcnow() + timedelta(hours=100)
    OrphanScanner(db, store, media).scan(grace=GRACE, apply=True, now=later)
    with db.session() as session:  # the stray becomes referenced before the worker runs
        session.execute(
            update(MediaResource)
            .where(MediaResource.id == made.resource.id)
            .values(storage_key=stray)
        )
    report = media.deletions.run_once(now=later)
    assert stray in report.kept_referenced
    assert store.exists(stray)


def _compared(objects: list[str], rows: list[str], size: int, page: int) -> tuple[list[str], ...]:
    now = utcnow()
    listing = iter([ObjectInfo(k, 1, None, now) for k in objects])
    pages = iter([rows[i : i + page] for i in range(0, len(rows), page)])
    lonely, missing, counted_objects, counted_rows = [], [], 0, 0
    for chunk in compare(listing, pages, size=size):
        lonely += [obj.key for obj in chunk.lonely]
        missing += chunk.missing
        counted_objects += chunk.objects
        counted_rows += chunk.rows
    assert (counted_objects, counted_rows) == (len(objects), len(rows))
    return lonely, missing


def test_compare_pairs_sorted_streams() -> None:
    lonely, missing = _compared(["a", "b", "d"], ["b", "c", "d", "e"], size=2, page=3)
    assert (lonely, missing) == (["a"], ["c", "e"])


@given(
    objects=st.sets(st.text("abc/", min_size=1, max_size=4)),
    rows=st.sets(st.text("abc/", min_size=1, max_size=4)),
    size=st.integers(1, 5),
    page=st.integers(1, 5),
)
def test_compare_is_the_set_difference_in_key_order(
    objects: set[str], rows: set[str], size: int, page: int
) -> None:
    """Whatever the run and page sizes, where the runs and pages fall, and which side ends
    first: each key is judged once, in key order."""
    lonely, missing = _compared(sorted(objects), sorted(rows), size, page)
    assert lonely == sorted(objects - rows)
    assert missing == sorted(rows - objects)


def test_a_failing_row_read_fails_the_scan_and_an_abandoned_one_stops() -> None:
    def failing() -> Iterator[list[str]]:
        yield ["a"]
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        list(_prefetched_pages(failing()))
    read: list[int] = []

    def endless() -> Iterator[list[str]]:
        for n in itertools.count():
            read.append(n)
            yield [str(n)]

    pages = _prefetched_pages(endless())
    assert next(pages) == ["0"]
    pages.close()  # the reader thread is stopped and joined, not left reading
    stopped = len(read)
    time.sleep(0.2)
    assert len(read) == stopped <= 4


_IDS = [uuid.UUID(int=n * 0x1234_5678_9ABC_DEF0_1234_5678 + 1, version=4) for n in range(6)]
_LISTABLE = [
    *(f"media/{rid}/file.{ext}" for rid in _IDS for ext in ("png", "jpg")),  # ingest's shape
    "media/foreign/notes.txt",  # not ingest's shape: never an orphan
    "media/é/file.png",
    "images/a.png",
    "images/é.png",  # byte order: "é" (C3 A9) sorts before "€" (E2 82 AC) and "𝄞" (F0 …)
    "images/€.png",
    "images/𝄞.png",
    "shooting_looks/l1/c.png",
    "other/stray.png",  # outside the scanned prefixes
]
_ROW_ONLY = ["media/a\nb/file.png"]  # a row key no valid object key can be (the separator)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    objects=st.sets(st.sampled_from(_LISTABLE)),
    rows=st.sets(st.sampled_from(_LISTABLE + _ROW_ONLY)),
    page=st.integers(1, 4),
)
def test_the_scan_is_the_naive_set_difference(
    db: Database, objects: set[str], rows: set[str], page: int
) -> None:
    """The scanner's report against plain sets, whatever the keys, the row page size (so
    where the keyset pages fall) and the database: every orphan, foreign object and missing
    object, counted and sampled in key order."""
    from sqlalchemy import delete, insert

    from sartiq_storage.adapters.db.models import MediaResource, ResourceType
    from sartiq_storage.adapters.stores import MemoryStore
    from sartiq_storage.core.keys import MediaKey, parse_key
    from sartiq_storage.services import orphans

    now = utcnow()
    with db.engine.begin() as connection:
        connection.execute(delete(MediaResource))
        for key in rows:
            rid = uuid.uuid4()
            connection.execute(
                insert(MediaResource).values(
                    id=rid,
                    resource_type=ResourceType.IMAGE,
                    storage_key=key,
                    content_hash=rid.hex,
                    extension="png",
                    content_type="image/png",
                    file_size=1,
                    protected=False,
                    created_at=now,
                    updated_at=now,
                )
            )
    store = MemoryStore()
    for key in objects:
        store.put(key, b"x")
    scanned = [k for k in sorted(objects) if k.startswith(orphans.SCANNED_PREFIXES)]
    listed_rows = [k for k in sorted(rows) if k.startswith(orphans.SCANNED_PREFIXES)]

    def ours(key: str) -> bool:
        try:
            return isinstance(parse_key(key), MediaKey)
        except ValueError:
            return False

    lonely = [k for k in scanned if k not in rows and k.startswith("media/")]
    missing = [k for p in orphans.SCANNED_PREFIXES for k in listed_rows if k.startswith(p)]
    missing = [k for k in missing if k not in objects]
    media = MediaResourceService(db, store, UrlResolver(CDN))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(orphans, "_ROW_PAGE", page)
        report = OrphanScanner(db, store, media).scan(grace=GRACE, now=now + 2 * GRACE)
    assert report.objects_scanned == len(scanned)
    assert report.rows_scanned == len(listed_rows)
    assert report.orphan_object_sample == [k for k in lonely if ours(k)]
    assert report.orphan_objects == len(report.orphan_object_sample)
    assert report.orphan_bytes == report.orphan_objects
    assert report.foreign_objects == len([k for k in lonely if not ours(k)])
    assert [s["key"] for s in report.missing_object_sample] == missing
    assert report.missing_objects == len(missing)
