"""Ingest of big videos: sniffed from a header range, probed through ranged reads, hashed as a
stream when the ETag is no MD5, relocated by server-side copy (in parts above the threshold),
with a poster frame; on the embedded store (local files) and on moto's S3 server."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import update

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.adapters.stores import LocalStore, ObjectStore, md5_from_etag
from sartiq_storage.adapters.stores.ranged import READ_AHEAD
from sartiq_storage.core.errors import UploadTooLargeError
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.posters import poster_key
from sartiq_storage.services.media.service import MediaInput, MediaResourceService
from sartiq_storage.testing.media import video_bytes
from sartiq_storage.testing.moto_server import make_bucket, moto_client, moto_store
from tests.support.media_service import CDN, product
from tests.support.videos import ReadCountingStore, image_size, multipart_put

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def big_video() -> bytes:
    """A real H.264 MP4 of about 20 MB (over what ingest reads at once), index at the end."""
    return video_bytes(
        "libx264", width=320, height=180, frames=12, rate=12, noise=True, repeat_to=20 * MiB
    )


def _ingest(store: ObjectStore, db: Database, key: str) -> tuple[MediaResourceService, object]:
    media = MediaResourceService(db, store, UrlResolver(CDN))
    return media, media.ingest(MediaInput(url=f"{CDN}/{key}"), product())


@pytest.mark.parametrize("backend", ["embedded", "moto"])
def test_a_big_video_is_ingested_without_being_held_whole(
    backend: str, big_video: bytes, db: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    if backend == "embedded":
        inner: ObjectStore = LocalStore(tmp_path / "data")
        inner.put(key, big_video, content_type="video/mp4")
    else:
        endpoint = str(request.getfixturevalue("moto_endpoint"))
        bucket = make_bucket(endpoint)
        inner = moto_store(endpoint, bucket)
        etag = multipart_put(moto_client(endpoint), bucket, key, big_video)
        assert md5_from_etag(etag) is None  # "…-4": the MD5 must come from the bytes
    store = ReadCountingStore(inner)
    media = MediaResourceService(db, store, UrlResolver(CDN))  # type: ignore[arg-type]
    try:
        result = media.ingest(MediaInput(url=f"{CDN}/{key}"), product())
    finally:
        media.close()
    resource = result.resource
    assert resource.resource_type is ResourceType.VIDEO
    assert resource.storage_key == f"media/{resource.id}/file.mp4"
    assert (resource.width, resource.height) == (320, 180)
    assert resource.duration is not None
    assert resource.duration > 10
    assert resource.codec == "h264"
    assert resource.frame_rate == pytest.approx(12, abs=0.5)  # the repeats add a little
    assert resource.content_hash == hashlib.md5(big_video).hexdigest()
    assert resource.file_size == len(big_video)
    info = inner.head(resource.storage_key)
    assert info.content_type == "video/mp4"
    assert inner.get_bytes(resource.storage_key) == big_video
    assert image_size(inner.get_bytes(poster_key(info))) == (320, 180)
    # Never the whole file in one buffer: chunks of a stream, or read-ahead ranges.
    assert store.log.largest_piece <= max(READ_AHEAD, 8 * MiB)
    assert store.log.largest_piece < len(big_video) // 2
    assert list(inner.list("temp/")) == []


def test_over_the_threshold_the_relocation_is_a_multipart_copy(
    moto_endpoint: str, db: Database
) -> None:
    data = video_bytes(
        "libvpx-vp9", width=128, height=72, frames=8, rate=8, noise=True, repeat_to=12 * MiB
    )
    bucket = make_bucket(moto_endpoint)
    store = moto_store(
        moto_endpoint, bucket, multipart_copy_threshold=8 * MiB, copy_part_size=5 * MiB
    )
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.webm"
    store.put(key, data, content_type="video/webm")
    media, result = _ingest(store, db, key)
    media.close()
    resource = result.resource  # type: ignore[attr-defined]
    assert resource.extension == "webm"
    assert (resource.width, resource.height) == (128, 72)
    canonical = store.head(resource.storage_key)
    assert canonical.etag is not None
    assert canonical.etag.endswith("-3")  # copied in three parts
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    assert store.get_bytes(resource.storage_key) == data
    assert image_size(store.get_bytes(poster_key(canonical))) == (128, 72)


def test_a_video_over_its_limit_is_refused_after_its_header(
    big_video: bytes, db: Database, tmp_path: Path
) -> None:
    store = ReadCountingStore(LocalStore(tmp_path / "data"))
    key = f"temp/{uuid.uuid4().hex}_1_v.mp4"
    store.put(key, big_video, content_type="video/mp4")
    media = MediaResourceService(
        db,
        store,  # type: ignore[arg-type]
        UrlResolver(CDN),
        max_video_size=len(big_video) - 1,
    )
    with pytest.raises(UploadTooLargeError):
        media.ingest(MediaInput(url=f"{CDN}/{key}"), product())
    media.close()
    assert store.log.total < 2 * MiB  # the first chunk, sniffed: not the rest


def test_heal_fills_a_big_video_from_ranged_reads_and_a_streamed_hash(
    big_video: bytes, db: Database, tmp_path: Path
) -> None:
    inner = LocalStore(tmp_path / "data")
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    inner.put(key, big_video, content_type="video/mp4")
    media, result = _ingest(inner, db, key)
    media.close()
    resource = result.resource  # type: ignore[attr-defined]
    with db.session() as session:
        session.execute(
            update(MediaResource)
            .where(MediaResource.id == resource.id)
            .values(
                duration=None, codec=None, frame_rate=None, width=None, height=None, sha256=None
            )
        )
        session.commit()
    store = ReadCountingStore(inner)
    report = Healer(db, store).heal([resource.id], dry_run=False)  # type: ignore[arg-type]
    assert report.fixed == [
        {"id": str(resource.id), "fix": "filled codec, duration, frame_rate, height, sha256, width"}
    ]
    with db.session() as session:
        row = session.get(MediaResource, resource.id)
        assert row is not None
        assert (row.width, row.height) == (320, 180)
        assert row.duration == resource.duration
        assert (row.codec, row.frame_rate) == (resource.codec, resource.frame_rate)
        assert row.sha256 == hashlib.sha256(big_video).hexdigest()
    assert store.log.largest_piece < len(big_video) // 2


def test_the_same_big_video_again_is_a_hit_and_its_speculative_copy_goes(
    big_video: bytes, db: Database, moto_endpoint: str
) -> None:
    bucket = make_bucket(moto_endpoint)
    store = moto_store(moto_endpoint, bucket)
    client = moto_client(moto_endpoint)
    media = MediaResourceService(db, store, UrlResolver(CDN))
    results = []
    for _ in range(2):
        key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
        multipart_put(client, bucket, key, big_video)  # no MD5 in the ETag: hashed while copied
        results.append(media.ingest(MediaInput(url=f"{CDN}/{key}"), product()))
    media.close()
    first, second = results
    assert first.created
    assert not second.created
    assert second.resource.id == first.resource.id
    files = [o.key for o in store.list("media/")]
    assert files == [first.resource.storage_key]  # the second copy was made, then deleted
    assert list(store.list("temp/")) == []
