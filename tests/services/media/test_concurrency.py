"""Races: identical ingests, and detach/delete racing ingests of shared content."""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, utcnow
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload


def test_fifty_concurrent_ingests_of_the_same_bytes(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    data = image_bytes("jpg", 80, 60, seed=70)
    sources = [upload(store, data, f"same-{i}.jpg", "image/jpeg") for i in range(50)]
    barrier = threading.Barrier(50)

    def one(i: int) -> uuid.UUID:
        barrier.wait()
        return media.ingest(sources[i], product()).resource.id

    with ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(one, range(50)))
    assert len(set(ids)) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaResource)) == 1
        assert session.scalar(select(func.count()).select_from(MediaResourceAttachment)) == 50
        key = session.scalar(select(MediaResource.storage_key))
    media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    assert [i.key for i in store.list("")] == [key]  # losers' copies and every upload removed


def test_detach_and_delete_never_remove_a_referenced_object(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    data = image_bytes(seed=71)
    first = media.ingest(upload(store, data), product())
    assert first.attachment is not None
    stop = threading.Event()
    errors: list[BaseException] = []

    def ingester() -> None:
        try:
            for _ in range(15):
                media.ingest(upload(store, data), product())
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def deleter() -> None:
        try:
            while not stop.is_set():
                with db.session() as session:
                    attachment_ids = list(session.scalars(select(MediaResourceAttachment.id)))
                    resource_ids = list(session.scalars(select(MediaResource.id)))
                for attachment_id in attachment_ids[:2]:
                    with contextlib.suppress(LookupError):
                        media.detach(attachment_id)
                for resource_id in resource_ids:
                    media.delete_if_orphaned(resource_id, grace=timedelta(0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingester), threading.Thread(target=deleter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    with db.session() as session:
        attached = session.scalars(
            select(MediaResource.storage_key).join(
                MediaResourceAttachment,
                MediaResourceAttachment.media_resource_id == MediaResource.id,
            )
        ).all()
        every_row = session.scalars(select(MediaResource.storage_key)).all()
    for key in {*attached, *every_row}:
        assert store.exists(key), f"{key} is referenced but was deleted"
