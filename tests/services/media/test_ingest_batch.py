"""``ingest_all`` pipelines a batch: verify and promote each, one transaction, one delete."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import pyvips
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionOutbox, MediaResource, utcnow
from sartiq_storage.adapters.stores import ObjectStore, S3Store
from sartiq_storage.core.errors import UnsupportedMediaError
from sartiq_storage.services.media.service import AttachTo, MediaResourceService
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import s3_store_of
from tests.support.media_service import product, upload
from tests.support.s3_servers import S3Server


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
    from tests.support.media_service import CDN

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
    record_one = media.recorder.record_one

    def spy(session: object, prepared: object, **kw: bool) -> object:
        one_by_one.append(prepared)
        return record_one(session, prepared, **kw)  # type: ignore[arg-type]

    media.recorder.record_one = spy  # type: ignore[method-assign,assignment]
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
    from tests.support.media_service import CDN

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


def test_a_follower_never_takes_a_slot_from_a_later_item(
    db: Database, mstore: ObjectStore, media: MediaResourceService
) -> None:
    """(A → S), (A again → T), (B → T): in item order T ends with B, as item by item."""
    from sartiq_storage.adapters.db.models import MediaResourceAttachment

    entity = uuid.uuid4()
    a, b = image_bytes(seed=72), image_bytes(seed=73)
    s_slot, t_slot = AttachTo("PRODUCT", entity, "cover"), AttachTo("PRODUCT", entity, "back")
    results = media.ingest_all(
        [(upload(mstore, a), s_slot), (upload(mstore, a), t_slot), (upload(mstore, b), t_slot)]
    )
    with db.session() as session:
        held = session.scalar(
            select(MediaResourceAttachment.media_resource_id).where(
                MediaResourceAttachment.entity_id == entity, MediaResourceAttachment.slot == "back"
            )
        )
        returned = results[2].attachment
        assert returned is not None
        assert session.get(MediaResourceAttachment, returned.id) is not None
    assert held == results[2].resource.id


def test_the_same_upload_twice_in_a_batch_past_the_header(
    db: Database, mstore: ObjectStore
) -> None:
    """Deferred enrichment reads only the header, so the second item cannot hash the upload
    after the first took it (and its source was deleted): it is answered by the first."""
    from sartiq_storage.core.urls import UrlResolver
    from sartiq_storage.services.media.service import HEADER_BYTES
    from tests.support.media_service import CDN

    noise = pyvips.Image.gaussnoise(400, 400, sigma=60).cast("uchar")
    data = bytes(noise.bandjoin([noise, noise]).write_to_buffer(".png"))
    assert len(data) > HEADER_BYTES
    media = MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)
    same = upload(mstore, data)
    first, second = media.ingest_all([(same, product()), (same, product())])
    media.close()
    assert first.resource.id == second.resource.id
    assert second.attachment is not None
    assert _count(db, MediaResource) == 1


def test_reattaching_while_a_concurrent_detach_commits(
    db: Database, mstore: ObjectStore, media: MediaResourceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot held this resource when looked at, and a detach committed before its row was
    read (PostgreSQL's read committed allows it): the slot is free, so attach anew."""
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from sartiq_storage.adapters.db.models import MediaResourceAttachment
    from sartiq_storage.services.media.service import MediaInput

    if not db.is_postgres:
        pytest.skip("SQLite writers hold the database lock: no detach can commit in between")
    target = product()
    first = media.ingest(upload(mstore, image_bytes(seed=81)), target)
    assert first.attachment is not None
    gone = first.attachment.id
    original_get = Session.get

    def get_after_a_detach(self: Session, entity: Any, ident: Any, **kw: Any) -> Any:
        if entity is MediaResourceAttachment and ident == gone:
            with db.engine.begin() as other:  # another connection: commits at once
                other.execute(
                    delete(MediaResourceAttachment).where(MediaResourceAttachment.id == gone)
                )
        return original_get(self, entity, ident, **kw)

    monkeypatch.setattr(Session, "get", get_after_a_detach)
    again = media.ingest(MediaInput(media_resource_id=first.resource.id), target)
    monkeypatch.undo()
    assert again.attachment is not None
    assert again.attachment.id != gone
    with db.session() as session:
        assert session.get(MediaResourceAttachment, again.attachment.id) is not None


def test_the_ack_retry_delay_stays_capped_however_long_the_outage(
    db: Database, mstore: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of failed flushes (hours of a database outage) still arm a timer, capped."""
    from sartiq_storage.services.media import deletions

    delays: list[float] = []

    class _Timer:
        def __init__(self, delay: float, *_: object) -> None:
            delays.append(delay)
            self.daemon = False

        def start(self) -> None:
            pass

    monkeypatch.setattr(deletions.threading, "Timer", _Timer)
    queue = deletions.DeletionQueue(db, mstore)
    for failures in (0, 3, 5000):
        queue._failed_flushes = failures
        queue._acks.clear()
        with queue._acks_lock:
            queue._pend([uuid.uuid4()])
    assert delays == [
        deletions.ACK_MAX_AGE_SECONDS,
        deletions.ACK_MAX_AGE_SECONDS * 8,
        deletions.ACK_RETRY_CAP_SECONDS,
    ]


def test_a_batch_longer_than_an_in_list_is_looked_up_in_chunks(
    db: Database, mstore: ObjectStore, media: MediaResourceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hash lookups and slot checks split their IN lists (bound parameters are capped)."""
    from sartiq_storage.services.media import statements

    monkeypatch.setattr(statements, "_IN_LIST_MAX", 3)
    first = media.ingest_all([(upload(mstore, image_bytes(seed=s)), product()) for s in range(8)])
    again = media.ingest_all([(upload(mstore, image_bytes(seed=s)), product()) for s in range(8)])
    assert [r.created for r in first] == [True] * 8
    assert [r.resource.id for r in again] == [r.resource.id for r in first]


def test_an_upload_swapped_after_its_check_is_a_conflict_and_leaves_nothing(
    db: Database, mstore: ObjectStore
) -> None:
    """The copy is pinned to the ETag verify read: other bytes put there meanwhile are not
    promoted. The ingest is refused as a conflict (409 over HTTP), with no row and no
    object in ``media/``, and the upload stays for a retry."""
    from sartiq_storage.adapters.stores import MemoryStore
    from sartiq_storage.core.errors import ConflictError
    from sartiq_storage.core.urls import UrlResolver
    from tests.support.media_service import CDN

    class _SwappedBeforeTheCopy(MemoryStore):
        def copy(self, source: str, destination: str, **kw: Any) -> Any:
            self.put(source, image_bytes(seed=99))  # another PUT lands just before the copy
            return super().copy(source, destination, **kw)

    store = _SwappedBeforeTheCopy()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    item = upload(store, image_bytes(seed=98))
    assert item.url is not None
    with pytest.raises(ConflictError, match="changed while it was ingested"):
        media.ingest(item, product())
    media.close()
    assert _count(db, MediaResource) == 0
    assert list(store.list("media/")) == []
    assert len(list(store.list("temp/"))) == 1


def test_on_s3_an_upload_swapped_after_its_check_is_a_conflict_and_leaves_nothing(
    db: Database, s3_server: S3Server, server_bucket: str
) -> None:
    """The same swap on each S3 server: on SeaweedFS (as on S3 and R2) the server refuses
    the copy pinned with ``x-amz-copy-source-if-match`` (412); moto ignores the pin and
    copies the new bytes, and the check of the copy's MD5 refuses them. Either way a
    conflict, no row, nothing left in ``media/``, the upload kept."""
    from sartiq_storage.core.errors import ConflictError
    from sartiq_storage.core.urls import UrlResolver
    from tests.support.media_service import CDN

    class _SwappedBeforeTheCopy(S3Store):
        def copy(self, source: str, destination: str, **kw: Any) -> Any:
            self.put(source, image_bytes(seed=97))  # another PUT lands just before the copy
            return super().copy(source, destination, **kw)

    store = s3_store_of(_SwappedBeforeTheCopy, s3_server.endpoint, server_bucket)
    copies: list[int] = []
    store.client.meta.events.register(
        "after-call.s3.CopyObject",
        lambda http_response, **_: copies.append(http_response.status_code),
    )
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=False)
    item = upload(store, image_bytes(seed=96))
    refusal = "changed while it was ingested" if s3_server.strict else "not hold the verified"
    with pytest.raises(ConflictError, match=refusal):
        media.ingest(item, product())
    media.close()
    assert copies == ([412] if s3_server.strict else [200])
    assert _count(db, MediaResource) == 0
    assert list(store.list("media/")) == []
    assert len(list(store.list("temp/"))) == 1
    store.close()
