"""Ingest of big videos: sniffed from a header range, probed through ranged reads, hashed as a
stream when the ETag is no MD5, relocated by server-side copy (in parts above the threshold),
with a poster frame; on the embedded store (local files) and on moto's S3 server."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.adapters.stores import (
    LocalStore,
    ObjectInfo,
    ObjectStore,
    S3Store,
    md5_from_etag,
)
from sartiq_storage.adapters.stores.ranged import READ_AHEAD
from sartiq_storage.core.errors import (
    ConflictError,
    StoreUnavailableError,
    UnsupportedMediaError,
    UploadTooLargeError,
)
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.posters import poster_key
from sartiq_storage.services.media.service import MediaInput, MediaResourceService
from sartiq_storage.testing.media import video_bytes
from sartiq_storage.testing.moto_server import (
    make_bucket,
    moto_client,
    moto_store,
    s3_store_of,
)
from tests.support.media_service import CDN, product
from tests.support.videos import CutReadStore, ReadCountingStore, image_size, multipart_put

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


def _three_videos(big_video: bytes, endpoint: str, bucket: str) -> tuple[list[str], list[bytes]]:
    """Three big videos uploaded in parts, none a dedup hit of another."""
    contents = []
    for position in (-1000, -2000, -3000):
        data = bytearray(big_video)
        data[position] ^= 0xFF
        contents.append(bytes(data))
    keys = [f"temp/{uuid.uuid4().hex}_1706000000_clip{i}.mp4" for i in range(3)]
    for key, data in zip(keys, contents, strict=True):
        multipart_put(moto_client(endpoint), bucket, key, data)
    return keys, contents


def test_where_a_copy_gives_no_md5_a_big_video_is_hashed_from_the_get_that_sniffed_it(
    big_video: bytes, db: Database, moto_endpoint: str
) -> None:
    """On R2 (not known to answer a copy with an MD5), as on any S3 but AWS: one GET per
    upload, alone (copied while hashed) or in a batch (hashed before its dedup). Its first
    chunk is sniffed and the rest of that same GET hashed; the probe reads the header from
    the first chunk and the index at the end from the hash's tail."""
    bucket = make_bucket(moto_endpoint)
    keys, contents = _three_videos(big_video, moto_endpoint, bucket)
    store = ReadCountingStore(moto_store(moto_endpoint, bucket, flavor="r2"))
    media = MediaResourceService(db, store, UrlResolver(CDN))  # type: ignore[arg-type]
    single = media.ingest(MediaInput(url=f"{CDN}/{keys[0]}"), product())
    batch = media.ingest_all([(MediaInput(url=f"{CDN}/{key}"), product()) for key in keys[1:]])
    media.close()
    hashes = [result.resource.content_hash for result in (single, *batch)]
    assert hashes == [hashlib.md5(data).hexdigest() for data in contents]
    assert sorted(store.log.gets) == sorted((key, None, None) for key in keys)


def test_where_a_copy_gives_the_md5_a_big_video_is_read_only_where_the_probe_looks(
    big_video: bytes, db: Database, moto_endpoint: str
) -> None:
    """On AWS a copy answers with the MD5 of the bytes it copied (moto too, here told it is
    AWS): that is the content hash, and of the video only the sniffed chunk and the
    probe's ranges leave the store (a batch still hashes before its dedup, from the
    sniffing GET)."""
    bucket = make_bucket(moto_endpoint)
    keys, contents = _three_videos(big_video, moto_endpoint, bucket)
    store = ReadCountingStore(moto_store(moto_endpoint, bucket, flavor="aws"))
    media = MediaResourceService(db, store, UrlResolver(CDN))  # type: ignore[arg-type]
    single = media.ingest(MediaInput(url=f"{CDN}/{keys[0]}"), product())
    alone = list(store.log.gets)
    read_alone = store.log.total
    batch = media.ingest_all([(MediaInput(url=f"{CDN}/{key}"), product()) for key in keys[1:]])
    media.close()
    hashes = [result.resource.content_hash for result in (single, *batch)]
    assert hashes == [hashlib.md5(data).hexdigest() for data in contents]
    assert alone[0] == (keys[0], None, None)  # the sniffing GET, closed after its first chunk
    assert {key for key, _, _ in alone} == {keys[0]}  # the copy is not read back
    assert all(start is not None for _, start, _ in alone[1:])  # then ranges only
    assert read_alone < len(big_video) // 4
    assert sorted(store.log.gets[len(alone) :]) == sorted((key, None, None) for key in keys[1:])


def test_on_seaweedfs_a_big_video_is_hashed_beside_its_copy(
    big_video: bytes, db: Database, seaweedfs_endpoint: str
) -> None:
    """SeaweedFS answers a copy of a multipart upload with the upload's ``…-N``: the video
    is hashed from its sniffing GET beside its copy, one GET in all."""
    bucket = make_bucket(seaweedfs_endpoint)
    keys, contents = _three_videos(big_video, seaweedfs_endpoint, bucket)
    store = ReadCountingStore(moto_store(seaweedfs_endpoint, bucket))
    media = MediaResourceService(db, store, UrlResolver(CDN))  # type: ignore[arg-type]
    resource = media.ingest(MediaInput(url=f"{CDN}/{keys[0]}"), product()).resource
    media.close()
    assert store.log.gets == [(keys[0], None, None)]  # sniffed, hashed, probed from its tail
    assert resource.content_hash == hashlib.md5(contents[0]).hexdigest()
    assert md5_from_etag(store.head(resource.storage_key).etag) is None  # the copy's "…-N"


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


def _nothing_left(db: Database, store: ObjectStore, key: str) -> None:
    """A refused ingest: no row, nothing under ``media/`` or ``derived/``, the upload kept."""
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaResource)) == 0
    assert list(store.list("media/")) == []
    assert list(store.list("derived/")) == []
    assert [o.key for o in store.list("temp/")] == [key]


PATHS = pytest.mark.parametrize(
    "flavor", ["aws", "r2"], ids=["md5-from-copy", "hashed-beside-copy"]
)


@PATHS
def test_a_big_video_replaced_before_its_copy_is_refused_and_leaves_nothing(
    big_video: bytes, db: Database, moto_endpoint: str, flavor: str
) -> None:
    """Another upload lands on the key just before the copy. moto ignores the copy's ETag
    pin and copies the new bytes. Hashed beside the copy (R2), the copy's MD5 then differs
    from the streamed one; with the MD5 from the copy (S3), the upload's ETag, looked at
    after the copy, differs from the one verified (or the probe's pinned reads see the new
    ETag first): refused as a conflict either way, the copy removed, no row."""
    bucket = make_bucket(moto_endpoint)
    client = moto_client(moto_endpoint)
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    multipart_put(client, bucket, key, big_video)
    other = bytearray(big_video)
    other[len(other) // 2] ^= 0xFF  # the same size, other bytes: only the MD5 tells
    swaps: list[str] = []

    class SwappedBeforeTheCopy(S3Store):
        def copy(self, source: str, destination: str, **kw: Any) -> ObjectInfo:
            swaps.append(multipart_put(client, bucket, source, bytes(other)))
            return super().copy(source, destination, **kw)

    store = s3_store_of(SwappedBeforeTheCopy, moto_endpoint, bucket, flavor=flavor)
    media = MediaResourceService(db, store, UrlResolver(CDN))
    with pytest.raises(ConflictError, match=r"changed while it was ingested|not hold the verified"):
        media.ingest(MediaInput(url=f"{CDN}/{key}"), product())
    media.close()
    assert len(swaps) == 1  # the streamed path copied it
    _nothing_left(db, store, key)
    assert store.get_bytes(key) == bytes(other)


def test_a_big_video_whose_hash_read_breaks_is_refused_and_leaves_nothing(
    big_video: bytes, db: Database, moto_endpoint: str
) -> None:
    """The hash's read (beside the copy, as on R2) is cut mid-way: the error is raised once
    the copy is done and removed."""
    bucket = make_bucket(moto_endpoint)
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    multipart_put(moto_client(moto_endpoint), bucket, key, big_video)
    inner = moto_store(moto_endpoint, bucket, flavor="r2")
    store = CutReadStore(inner, after=len(big_video) // 2)
    media = MediaResourceService(db, store, UrlResolver(CDN))  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailableError, match="a test's cut"):
        media.ingest(MediaInput(url=f"{CDN}/{key}"), product())
    media.close()
    _nothing_left(db, inner, key)
    assert store.log.gets[0] == (key, None, None)  # the sniffing GET: the hash's read


@PATHS
def test_a_big_video_that_does_not_probe_is_refused_and_its_copy_never_kept(
    big_video: bytes, db: Database, moto_endpoint: str, flavor: str
) -> None:
    """A file that sniffs as MP4 but has no readable index. Hashed beside the copy (R2), the
    probe refuses it while the copy and the hash run, and both are stopped or undone before
    the refusal; with the MD5 from the copy (AWS) the probe comes first and nothing is
    copied at all."""
    broken = big_video[: 1 << 20] + bytes(len(big_video) - (1 << 20))  # the header, then zeros
    bucket = make_bucket(moto_endpoint)
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    multipart_put(moto_client(moto_endpoint), bucket, key, broken)
    copies: list[str] = []

    class CountedCopies(S3Store):
        def copy(self, source: str, destination: str, **kw: Any) -> ObjectInfo:
            copies.append(destination)
            return super().copy(source, destination, **kw)

    store = s3_store_of(CountedCopies, moto_endpoint, bucket, flavor=flavor)
    media = MediaResourceService(db, store, UrlResolver(CDN))
    with pytest.raises(UnsupportedMediaError):
        media.ingest(MediaInput(url=f"{CDN}/{key}"), product())
    media.close()
    _nothing_left(db, store, key)
    assert len(copies) == (0 if flavor == "aws" else 1)
