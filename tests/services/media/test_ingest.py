"""Ingestion: verify before promote, dedup, relocation, attachments, idempotency."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, ResourceType
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.errors import (
    InvalidMediaInputError,
    MediaNotFoundError,
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.urls import ForeignUrlError
from sartiq_storage.services.media.service import IMMUTABLE, MediaInput, MediaResourceService
from sartiq_storage.testing.media import image_bytes, mp4_bytes
from tests.support.media_service import CDN, product, upload
from tests.support.photos import damaged_pixels


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_new_upload_is_verified_relocated_and_attached(
    media: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    data = image_bytes("png", 64, 48, (200, 100, 50))
    source = upload(mstore, data, "Photo 1.png", "image/png")
    target = product()
    result = media.ingest(source, target)
    resource = result.resource
    assert result.created
    assert resource.storage_key == f"media/{resource.id}/file.png"
    assert resource.resource_type is ResourceType.IMAGE
    assert (resource.width, resource.height) == (64, 48)
    assert resource.dominant_color == "#c86432"
    assert resource.color_profile == "sRGB"
    assert resource.file_size == len(data)
    info = mstore.head(resource.storage_key)
    assert info.content_type == "image/png"
    assert info.cache_control == IMMUTABLE
    assert mstore.get_bytes(resource.storage_key) == data
    assert list(mstore.list("temp/")) == []  # the source was deleted after the commit
    assert result.attachment is not None
    assert result.attachment.entity_id == target.entity_id
    assert result.attachment.position is None


def test_client_claims_are_not_trusted(media: MediaResourceService, mstore: ObjectStore) -> None:
    jpeg = image_bytes("jpg")
    result = media.ingest(upload(mstore, jpeg, "lies.png", "image/png"), product())
    assert result.resource.extension == "jpg"
    assert result.resource.content_type == "image/jpeg"
    assert mstore.head(result.resource.storage_key).content_type == "image/jpeg"


def test_dedup_reuses_the_resource(
    media: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    data = image_bytes("webp", seed=3)
    first = media.ingest(upload(mstore, data), product())
    second = media.ingest(upload(mstore, data, "again.webp"), product())
    assert not second.created
    assert second.resource.id == first.resource.id
    assert count(db, MediaResource) == 1
    assert count(db, MediaResourceAttachment) == 2
    assert [i.key for i in mstore.list("")] == [first.resource.storage_key]


def test_same_upload_twice_is_idempotent(
    media: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    source = upload(mstore, image_bytes("gif"))
    target = product()
    first = media.ingest(source, target)
    again = media.ingest(source, target)  # the temp object is gone by now
    assert again.resource.id == first.resource.id
    assert again.attachment is not None
    assert first.attachment is not None
    assert again.attachment.id == first.attachment.id
    assert count(db, MediaResource) == 1
    assert count(db, MediaResourceAttachment) == 1


def test_single_slot_replaces_list_slot_keeps_order(
    media: MediaResourceService, mstore: ObjectStore
) -> None:
    entity = uuid.uuid4()
    old = media.ingest(upload(mstore, image_bytes(seed=1)), product(entity_id=entity))
    new = media.ingest(upload(mstore, image_bytes(seed=2)), product(entity_id=entity))
    assert media.attachments_of(old.resource.id) == []
    assert media.get(old.resource.id).detached_at is not None
    assert [a.id for a in media.attachments_of(new.resource.id)] == [new.attachment.id]  # type: ignore[union-attr]
    for position in range(3):
        media.ingest(
            upload(mstore, image_bytes(seed=10 + position)),
            product("reference_images", position, entity),
        )
    listed, total = media.list_resources(entity_type="PRODUCT", entity_id=entity)
    assert total == 4
    positions = sorted(
        a.position
        for r in listed
        for a in media.attachments_of(r.id)
        if a.slot == "reference_images"
    )
    assert positions == [0, 1, 2]


def test_reuse_by_id(media: MediaResourceService, mstore: ObjectStore) -> None:
    made = media.ingest(upload(mstore, image_bytes(seed=5)), product())
    reused = media.ingest(MediaInput(media_resource_id=made.resource.id), product())
    assert reused.resource.id == made.resource.id
    with pytest.raises(MediaNotFoundError):
        media.ingest(MediaInput(media_resource_id=uuid.uuid4()), product())


@pytest.mark.parametrize("kwargs", [{}, {"url": "x", "media_resource_id": uuid.uuid4()}])
def test_media_input_needs_exactly_one(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidMediaInputError):
        MediaInput(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/temp/a_1_b.png",
        f"{CDN}/media/x/file.png",
        f"{CDN}/temp/../media/x",
        "file:///etc/passwd",
    ],
)
def test_foreign_or_non_temp_urls_refused(media: MediaResourceService, url: str) -> None:
    with pytest.raises((ForeignUrlError, ValueError)):
        media.ingest(MediaInput(url=url), product())


def _nothing_created(db: Database, store: ObjectStore) -> None:
    assert count(db, MediaResource) == 0
    assert count(db, MediaResourceAttachment) == 0
    assert list(store.list("media/")) == []


def test_missing_upload_is_410(
    media: MediaResourceService, db: Database, mstore: ObjectStore
) -> None:
    with pytest.raises(UploadMissingError):
        media.ingest(MediaInput(url=f"{CDN}/temp/none_1_x.png"), product())
    _nothing_created(db, mstore)


def test_too_large_is_413(db: Database, mstore: ObjectStore) -> None:
    from sartiq_storage.core.urls import UrlResolver

    small = MediaResourceService(db, mstore, UrlResolver(CDN), max_file_size=100)
    source = upload(mstore, image_bytes("png", 256, 256, seed=9))
    with pytest.raises(UploadTooLargeError):
        small.ingest(source, product())
    _nothing_created(db, mstore)
    assert len(list(mstore.list("temp/"))) == 1  # the upload itself is kept, untouched


@pytest.mark.parametrize(
    "payload",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"<html><body>hi</body></html>",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # a PNG signature, then garbage
        b"MZ\x90\x00" + b"\x00" * 100,
    ],
)
def test_spoofed_or_damaged_content_refused(
    media: MediaResourceService, db: Database, mstore: ObjectStore, payload: bytes
) -> None:
    with pytest.raises(UnsupportedMediaError):
        media.ingest(upload(mstore, payload, "x.png", "image/png"), product())
    _nothing_created(db, mstore)


def test_pixels_that_do_not_decode_are_refused_and_the_copy_made_meanwhile_removed(
    media: MediaResourceService, db: Database, mstore: ObjectStore
) -> None:
    """The colour decodes while the upload is copied: a decode that fails after the header
    and the metadata walk passed refuses the upload all the same, and leaves no copy."""
    broken = damaged_pixels(image_bytes("jpg", 256, 256, seed=3))
    with pytest.raises(UnsupportedMediaError, match="damaged"):
        media.ingest(upload(mstore, broken, "x.jpg", "image/jpeg"), product())
    _nothing_created(db, mstore)
    fine = upload(mstore, image_bytes("jpg", 64, 64, seed=4), "y.jpg", "image/jpeg")
    outcomes = media.ingest_each(
        [(upload(mstore, broken, "z.jpg", "image/jpeg"), product()), (fine, product())]
    )
    assert isinstance(outcomes[0], UnsupportedMediaError)
    assert not isinstance(outcomes[1], Exception)
    assert [o.key for o in mstore.list("media/")] == [outcomes[1].resource.storage_key]


def test_decompression_bomb_refused(db: Database, mstore: ObjectStore) -> None:
    from sartiq_storage.core.urls import UrlResolver

    strict = MediaResourceService(db, mstore, UrlResolver(CDN), max_pixels=64 * 64)
    with pytest.raises(UnsupportedMediaError, match="pixel limit"):
        strict.ingest(upload(mstore, image_bytes("png", 65, 64)), product())
    _nothing_created(db, mstore)


def test_video_ingest(media: MediaResourceService, mstore: ObjectStore) -> None:
    result = media.ingest(upload(mstore, mp4_bytes(), "clip.mp4", "video/mp4"), product("video"))
    resource = result.resource
    assert resource.resource_type is ResourceType.VIDEO
    assert (resource.width, resource.height) == (64, 48)
    assert resource.duration == pytest.approx(2.0, abs=0.2)
    assert (resource.codec, resource.frame_rate) == ("mpeg4", 10.0)
    assert resource.color_profile is None
    assert resource.storage_key.endswith("/file.mp4")


def test_compute_results_are_relocated(media: MediaResourceService, mstore: ObjectStore) -> None:
    key = "compute/generations/task789/result_0.webp"
    mstore.put(key, image_bytes("webp", seed=77), content_type="image/webp")
    result = media.ingest_from_storage_key(key, relocate=True, target=product("result"))
    assert result.resource.storage_key.startswith("media/")
    assert not mstore.exists(key)
    again = media.ingest_from_storage_key(key, relocate=True)
    assert again.resource.id == result.resource.id


def test_register_canonical_in_place(media: MediaResourceService, mstore: ObjectStore) -> None:
    resource_id = uuid.uuid4()
    key = f"media/{resource_id}/file.png"
    mstore.put(key, image_bytes(seed=42), content_type="image/png")
    result = media.ingest_from_storage_key(key, relocate=False)
    assert result.resource.id == resource_id
    assert result.resource.storage_key == key
    assert mstore.exists(key)
    with pytest.raises(InvalidMediaInputError):
        media.ingest_from_storage_key("compute/x/result_0.webp", relocate=False)
    with pytest.raises(InvalidMediaInputError):
        media.ingest_from_storage_key("images/products/p/product_p_S_u_cover.png", relocate=True)


def test_patch_fills_only_nulls(media: MediaResourceService, mstore: ObjectStore) -> None:
    made = media.ingest(upload(mstore, image_bytes(seed=8)), product())
    patched = media.patch_metadata(
        made.resource.id,
        {"width": 999, "caption": "red dress", "alt_text": None, "duration": 3.0},
    )
    assert patched.width == 64  # already set: silently kept
    assert patched.caption == "red dress"
    assert patched.duration is None  # images have no duration
    again = media.patch_metadata(made.resource.id, {"caption": "other"})
    assert again.caption == "red dress"
    with pytest.raises(InvalidMediaInputError):
        media.patch_metadata(made.resource.id, {"storage_key": "x"})


def test_ingest_all_concurrently_keeps_order_and_dedups(
    media: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    entity = uuid.uuid4()
    datas = [image_bytes(seed=100 + i % 5) for i in range(12)]  # 5 distinct, 7 duplicates
    items = [(upload(mstore, d), product("gallery", i, entity)) for i, d in enumerate(datas)]
    results = media.ingest_all(items, concurrency=6)
    assert [r.attachment.position for r in results if r.attachment] == list(range(12))
    assert count(db, MediaResource) == 5
    assert count(db, MediaResourceAttachment) == 12
    assert len({r.resource.id for r in results}) == 5
    assert list(mstore.list("temp/")) == []
