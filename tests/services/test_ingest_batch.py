"""``ingest_all`` pipelines a batch: verify and promote each, one transaction, one delete."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionOutbox, MediaResource, utcnow
from sartiq_storage.adapters.stores import ObjectStore, S3Store
from sartiq_storage.core.errors import UnsupportedMediaError
from sartiq_storage.services.media.service import MediaResourceService
from tests.services.conftest import product, upload
from tests.support.media import image_bytes


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_batch_dedups_within_itself_and_keeps_order(
    db: Database, mstore: ObjectStore, media: MediaResourceService, concurrency: int
) -> None:
    datas = [image_bytes(seed=s) for s in (1, 2, 1, 3, 2)]  # two pairs of duplicates
    items = [(upload(mstore, d), product()) for d in datas]
    results = media.ingest_all(items, concurrency=concurrency)
    assert [r.attachment.entity_id for r in results if r.attachment] == [
        t.entity_id for _, t in items
    ]
    ids = [r.resource.id for r in results]
    assert ids[0] == ids[2]
    assert ids[1] == ids[4]
    assert len(set(ids)) == 3
    assert _count(db, MediaResource) == 3
    for result, data in zip(results, datas, strict=True):
        assert mstore.get_bytes(result.resource.storage_key) == data
    assert list(mstore.list("temp/")) == []
    # Exactly one object per resource: the losing copies of in-batch duplicates are gone.
    assert len(list(mstore.list("media/"))) == 3


def test_one_bad_input_fails_alone_and_the_batch_can_be_retried(
    db: Database, mstore: ObjectStore, media: MediaResourceService
) -> None:
    good = [(upload(mstore, image_bytes(seed=s)), product()) for s in (11, 12)]
    bad = (upload(mstore, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg"), product())
    items = [good[0], bad, good[1]]
    with pytest.raises(UnsupportedMediaError):
        media.ingest_all(items)
    assert _count(db, MediaResource) == 2  # the good ones were recorded
    retried = media.ingest_all(good)
    assert _count(db, MediaResource) == 2
    assert {r.created for r in retried} == {False}


def test_done_deletions_are_acknowledged_in_batches_under_a_lease(
    db: Database, mstore: ObjectStore, media: MediaResourceService
) -> None:
    media.ingest_all([(upload(mstore, image_bytes(seed=s)), product()) for s in (21, 22, 23)])
    assert list(mstore.list("temp/")) == []  # deleted right after the commit
    # The outbox rows of those deletions wait for a batch; their lease keeps the worker off.
    assert _count(db, MediaDeletionOutbox) == 3
    assert media.deletions.run_once().deleted == []
    media.close()
    assert _count(db, MediaDeletionOutbox) == 0


def test_a_crash_before_the_acknowledgement_only_repeats_a_delete(
    db: Database, mstore: ObjectStore, media: MediaResourceService
) -> None:
    result = media.ingest(upload(mstore, image_bytes(seed=31)), product())
    media.deletions._acks.clear()  # the process died with acknowledgements pending
    report = media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    assert len(report.deleted) == 1  # a second delete of a key already gone: harmless
    assert _count(db, MediaDeletionOutbox) == 0
    assert mstore.exists(result.resource.storage_key)


def test_a_quiet_spell_still_clears_the_acknowledgements(
    db: Database, mstore: ObjectStore, media: MediaResourceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No later ingest comes to flush them: a timer does, long before their lease ends."""
    from sartiq_storage.services.media import deletions

    monkeypatch.setattr(deletions, "ACK_MAX_AGE_SECONDS", 0.05)
    media.ingest(upload(mstore, image_bytes(seed=41)), product())
    for _ in range(200):
        if _count(db, MediaDeletionOutbox) == 0:
            break
        time.sleep(0.05)
    assert _count(db, MediaDeletionOutbox) == 0


def test_a_discarded_service_is_not_kept_alive_by_its_flush_timer(
    db: Database, mstore: ObjectStore
) -> None:
    """The pending-ack timer holds its queue weakly: a service dropped with acks pending
    (its database about to go) is freed, not left retrying against nothing forever."""
    import gc
    import weakref

    from sartiq_storage.core.urls import UrlResolver
    from tests.services.conftest import CDN

    service = MediaResourceService(db, mstore, UrlResolver(CDN))
    service.ingest(upload(mstore, image_bytes(seed=43)), product())
    assert service.deletions._acks  # one acknowledgement waits for its timer
    queue = weakref.ref(service.deletions)
    del service
    gc.collect()
    assert queue() is None


def test_in_batch_duplicates_wait_for_their_leader(
    db: Database, mstore: ObjectStore, media: MediaResourceService
) -> None:
    """The same bytes twice in one batch: one resource, one copy, both attached, and the
    batch is still recorded in one transaction (not item by item after a conflict)."""
    data = image_bytes(seed=44)
    items = [(upload(mstore, data), product()) for _ in range(3)]
    items.insert(1, (upload(mstore, image_bytes(seed=45)), product()))
    one_by_one: list[object] = []
    record_one = media._record_one

    def spy(session: object, prepared: object, **kw: bool) -> object:
        one_by_one.append(prepared)
        return record_one(session, prepared, **kw)  # type: ignore[arg-type]

    media._record_one = spy  # type: ignore[method-assign,assignment]
    results = media.ingest_all(items)
    assert [r.created for r in results] == [True, True, False, False]
    assert len({results[i].resource.id for i in (0, 2, 3)}) == 1
    assert _count(db, MediaResource) == 2
    assert len(one_by_one) == 2  # the two followers only
    media_keys = sorted(o.key for o in mstore.list("media/"))
    assert media_keys == sorted(r.resource.storage_key for r in results[:2])
    assert not list(mstore.list("temp/"))


def test_on_s3_an_ingest_reads_once_and_copies_pinned(
    db: Database, s3_store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per upload: one ranged GET to verify, then the copy, pinned to the ETag that GET saw.
    No HEAD of the source (the GET told its size), and on a generic S3 (moto here) no HEAD of
    the destination either: its key is a fresh UUID's, and that check could not be atomic."""
    from sartiq_storage.core.urls import UrlResolver
    from tests.services.conftest import CDN

    assert s3_store.flavor == "generic"
    looked: list[str] = []
    for name in ("head", "exists"):
        original = getattr(s3_store, name)
        monkeypatch.setattr(
            s3_store, name, lambda key, _f=original, _n=name: looked.append(_n) or _f(key)
        )
    pins: list[bytes | None] = []
    s3_store._client.meta.events.register(
        "before-send.s3.CopyObject",
        lambda request, **_: pins.append(request.headers.get("x-amz-copy-source-if-match")),
    )
    media = MediaResourceService(db, s3_store, UrlResolver(CDN), inline_enrichment=False)
    items = [(upload(s3_store, image_bytes(seed=s)), product()) for s in (46, 47, 48)]
    results = media.ingest_all(items)
    media.close()
    assert [r.created for r in results] == [True, True, True]
    assert looked == []
    assert len(pins) == 3
    assert all(pin and len(pin.strip(b'"')) == 32 for pin in pins)
