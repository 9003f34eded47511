"""A failure at every step of ingest, relocation and deletion loses nothing.

For each named failpoint: ingest with the point armed, then recover (retry the ingest, run
the outbox with the clock past its lease) and check the invariants:

* no resource row points at a missing object;
* the upload is not lost: the retry yields a resource, and the same one on every retry;
* the source under temp/ is gone once the outbox has run;
* anything left behind is an unreferenced media/ copy from before the commit, which the
  orphan scanner's grace period covers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, utcnow
from sartiq_storage.adapters.stores import MemoryStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload

BEFORE_COMMIT = [
    "ingest.headed",
    "ingest.hashed",
    "ingest.copied",
    "ingest.verified",
    "ingest.before_commit",
]
LOST_ANSWER = ["ingest.committed"]  # committed, but the caller never heard back
AFTER_COMMIT = ["outbox.before_delete", "outbox.after_delete"]  # the caller succeeded


def check_invariants(db: Database, store: ObjectStore) -> set[str]:
    """Assert the invariants; return unreferenced media/ keys (the scanner's share)."""
    with db.session() as session:
        keys = set(session.scalars(select(MediaResource.storage_key)))
        assert session.scalar(select(func.count()).select_from(MediaResource)) == 1
        assert session.scalar(select(func.count()).select_from(MediaResourceAttachment)) == 1
    for key in keys:
        assert store.exists(key), f"row points at missing object {key}"
    assert list(store.list("temp/")) == [], "the upload was not cleaned up"
    return {info.key for info in store.list("media/")} - keys


@pytest.mark.parametrize("point", BEFORE_COMMIT + LOST_ANSWER + AFTER_COMMIT)
def test_exception_at_every_step(db: Database, point: str) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    source = upload(store, image_bytes(seed=61))
    target = product()
    first_id = None
    with failpoints.armed(point):
        if point in BEFORE_COMMIT + LOST_ANSWER:
            with pytest.raises(failpoints.InjectedFailure):
                media.ingest(source, target)
        else:
            first_id = media.ingest(source, target).resource.id  # committed: the caller succeeded
    retried = media.ingest(source, target)
    assert retried.resource.id == (first_id or retried.resource.id)
    assert media.ingest(source, target).resource.id == retried.resource.id
    media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    leftovers = check_invariants(db, store)
    if point in ("ingest.copied", "ingest.verified", "ingest.before_commit"):
        assert len(leftovers) == 1  # the pre-commit copy: the orphan scanner's, after its grace
        assert all(store.head(k).last_modified <= utcnow() for k in leftovers)
    else:
        assert leftovers == set()


@pytest.mark.parametrize("point", ["outbox.before_delete", "outbox.after_delete"])
def test_crash_during_dedup_hit_deletion(db: Database, point: str) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    data = image_bytes(seed=62)
    media.ingest(upload(store, data), product())
    with failpoints.armed(point):
        media.ingest(upload(store, data), product())
    assert len(list(store.list("temp/"))) in (0, 1)
    media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    assert list(store.list("temp/")) == []
    with db.session() as session:
        key = session.scalar(select(MediaResource.storage_key))
    assert key is not None
    assert store.exists(key)
