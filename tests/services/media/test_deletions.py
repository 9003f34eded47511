"""Detach, orphan deletion rules, the outbox, dead letters and their backoff."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, MediaDeletionOutbox, utcnow
from sartiq_storage.adapters.stores import MemoryStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.deletions import (
    BACKOFF_CAP,
    MAX_AUTOMATIC_ATTEMPTS,
    backoff,
)
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.faulty_store import FaultyStore
from tests.support.media_service import CDN, product, upload


def test_detach_keeps_the_object_and_shared_resources(
    media: MediaResourceService, mstore: ObjectStore
) -> None:
    data = image_bytes(seed=21)
    a = media.ingest(upload(mstore, data), product())
    b = media.ingest(upload(mstore, data), product())
    assert a.attachment
    assert b.attachment
    media.detach(a.attachment.id)
    assert media.get(a.resource.id).detached_at is None  # still attached to b
    assert not media.delete_if_orphaned(a.resource.id, grace=timedelta(0))
    assert mstore.exists(a.resource.storage_key)


def test_orphan_deleted_only_after_grace_and_never_when_protected(
    media: MediaResourceService, mstore: ObjectStore
) -> None:
    made = media.ingest(upload(mstore, image_bytes(seed=22)), product())
    protected = media.ingest(upload(mstore, image_bytes(seed=23)), product())
    assert made.attachment
    assert protected.attachment
    media.set_protected(protected.resource.id, True)
    media.detach(made.attachment.id)
    media.detach(protected.attachment.id)
    assert not media.delete_if_orphaned(made.resource.id, grace=timedelta(hours=1))
    assert mstore.exists(made.resource.storage_key)
    assert media.delete_if_orphaned(made.resource.id, grace=timedelta(0))
    assert not mstore.exists(made.resource.storage_key)
    assert not media.delete_if_orphaned(protected.resource.id, grace=timedelta(0))
    assert mstore.exists(protected.resource.storage_key)


def test_detach_entity(media: MediaResourceService, mstore: ObjectStore) -> None:
    entity = uuid.uuid4()
    for position in range(3):
        media.ingest(
            upload(mstore, image_bytes(seed=30 + position)), product("refs", position, entity)
        )
    assert media.detach_entity("PRODUCT", entity) == 3
    assert media.list_resources(entity_type="PRODUCT", entity_id=entity)[1] == 0


def _letters(db: Database) -> list[MediaDeletionDeadLetter]:
    with db.session() as session:
        return list(session.scalars(select(MediaDeletionDeadLetter)))


def test_failed_deletes_become_dead_letters_and_drain_later(db: Database) -> None:
    faulty = FaultyStore(MemoryStore())
    media = MediaResourceService(db, faulty, UrlResolver(CDN))  # type: ignore[arg-type]
    faulty.fail_delete = lambda key: key.startswith("temp/")
    source = upload(faulty, image_bytes(seed=40))  # type: ignore[arg-type]
    result = media.ingest(source, product())
    letters = _letters(db)
    assert [letter.storage_key for letter in letters] == [media.urls.key_from_url(source.url or "")]
    assert letters[0].attempts == 1
    assert "injected" in letters[0].error_message
    assert letters[0].next_attempt_at > letters[0].last_attempted_at
    with db.session() as session:
        assert session.scalars(select(MediaDeletionOutbox)).all() == []
    # Not due yet: nothing happens.
    assert media.deletions.retry_dead_letters().deleted == []
    # Still failing when due: attempts grow, the delay grows.
    later = utcnow() + timedelta(days=1)
    media.deletions.retry_dead_letters(now=later)
    assert _letters(db)[0].attempts == 2
    # Faults stop: the next due retry deletes and clears the letter.
    faulty.fail_delete = lambda key: False
    report = media.deletions.retry_dead_letters(now=later + timedelta(days=1))
    assert report.deleted == [letters[0].storage_key]
    assert _letters(db) == []
    assert faulty.inner.exists(result.resource.storage_key)


def test_a_referenced_key_is_never_deleted(
    media: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    made = media.ingest(upload(mstore, image_bytes(seed=41)), product())
    from sartiq_storage.services.media.deletions import enqueue

    with db.session() as session:
        ids = [row_id for row_id, _ in enqueue(session, [made.resource.storage_key], "bogus")]
    report = media.deletions.drain(ids)
    assert report.kept_referenced == [made.resource.storage_key]
    assert mstore.exists(made.resource.storage_key)


def test_backoff_is_capped_jittered_and_grows() -> None:
    assert backoff(1, rng=lambda: 0.0) == timedelta(seconds=15)
    assert backoff(1, rng=lambda: 1.0) == timedelta(seconds=30)
    assert backoff(3, rng=lambda: 1.0) == timedelta(seconds=120)
    assert backoff(40, rng=lambda: 1.0) == BACKOFF_CAP
    assert backoff(40, rng=lambda: 0.0) == BACKOFF_CAP / 2
    assert MAX_AUTOMATIC_ATTEMPTS >= 10


@pytest.mark.parametrize("n", [3])
def test_run_once_drains_everything_due(db: Database, n: int) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), drain_after_commit=False)
    for i in range(n):
        media.ingest(upload(store, image_bytes(seed=50 + i)), product())
    assert len(list(store.list("temp/"))) == n
    report = media.deletions.run_once()
    assert len(report.deleted) == n
    assert list(store.list("temp/")) == []
