"""Multipart uploads behave the same on every backend: memory, local disk, moto, SeaweedFS.

Parts go in server-side (``upload_part``) and through the presigned part URL (a plain HTTP
PUT, as a browser sends it: to the bucket on S3, to the service's signed part route on the
embedded stores, which these store-level tests reach through the in-process app).
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from sartiq_storage.adapters.stores import LocalStore, ObjectStore, S3Store
from sartiq_storage.core.errors import InvalidUploadError, UploadNotFoundError
from sartiq_storage.core.multipart import MIN_PART_BYTES
from tests.support.s3_servers import server_at

KEY = "temp/1700000000/0123456789abcdef0123456789abcdef_clip.mp4"


def _blob(size: int, seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)


def test_parts_listed_completed_and_assembled(store: ObjectStore) -> None:
    first, second, last = _blob(MIN_PART_BYTES, 1), _blob(MIN_PART_BYTES, 2), b"tail" * 10
    upload_id = store.create_multipart(KEY, content_type="video/mp4", cache_control="no-store")
    assert store.list_parts(KEY, upload_id) == []
    parts = [
        store.upload_part(KEY, upload_id, 1, first),
        store.upload_part(KEY, upload_id, 3, last),
    ]
    listed = store.list_parts(KEY, upload_id)
    assert [(p.part_number, p.size) for p in listed] == [(1, MIN_PART_BYTES), (3, 40)]
    assert [p.etag for p in listed] == [
        hashlib.md5(first).hexdigest(),
        hashlib.md5(last).hexdigest(),
    ]
    parts.insert(1, store.upload_part(KEY, upload_id, 2, second))
    assert not store.exists(KEY)  # nothing visible before completion
    info = store.complete_multipart(KEY, upload_id, [(p.part_number, f'"{p.etag}"') for p in parts])
    assert info.size == 2 * MIN_PART_BYTES + 40
    assert info.content_type == "video/mp4"
    assert store.get_bytes(KEY) == first + second + last
    with pytest.raises(UploadNotFoundError):
        store.list_parts(KEY, upload_id)  # completed: the upload is gone


def test_what_a_copy_of_a_completed_upload_answers_for_its_etag(store: ObjectStore) -> None:
    """moto, like AWS S3, answers a single server-side copy of an object uploaded in parts
    with the MD5 of its bytes; SeaweedFS keeps the upload's ``…-N``. Ingest takes a big
    video's MD5 from its copy only where ``copy_computes_md5`` says so: on AWS (the
    embedded stores' ETags are always MD5s); elsewhere it hashes the video beside the copy."""
    first, last = _blob(MIN_PART_BYTES, 1), b"the end"
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    parts = [store.upload_part(KEY, upload_id, n, body) for n, body in ((1, first), (2, last))]
    info = store.complete_multipart(KEY, upload_id, [(p.part_number, p.etag) for p in parts])
    destination = "media/0123456789abcdef0123456789abcdef/file.mp4"
    copied = store.copy(KEY, destination, content_type="video/mp4", source_info=info)
    md5 = hashlib.md5(first + last).hexdigest()
    seaweedfs = isinstance(store, S3Store) and server_at(store.endpoint_url).name == "seaweedfs"
    assert copied.md5 == (None if seaweedfs else md5)
    assert store.head(destination).md5 == copied.md5
    if isinstance(store, S3Store):
        assert info.md5 is None  # "…-2"
        assert not store.copy_computes_md5(info.size)  # neither server says it is AWS
        assert S3Store(
            bucket=store.bucket,
            endpoint_url=store.endpoint_url,
            access_key_id="k",
            secret_access_key="s",
            region="us-east-1",
            flavor="aws",
        ).copy_computes_md5(info.size)
    else:
        assert store.copy_computes_md5(info.size)


def test_a_part_uploaded_again_replaces_the_first(store: ObjectStore) -> None:
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    store.upload_part(KEY, upload_id, 1, b"first try")
    if store.kind == "s3":
        # SeaweedFS lists both uploads of the part; the newer is told by its date (seconds).
        time.sleep(1.1)
    again = store.upload_part(KEY, upload_id, 1, b"second try")
    assert store.list_parts(KEY, upload_id) == [again]
    store.complete_multipart(KEY, upload_id, [(1, again.etag)])
    assert store.get_bytes(KEY) == b"second try"


@pytest.mark.parametrize(
    ("claimed", "problem"),
    [
        ([(1, "0" * 32)], "ETag"),
        ([(2, "b"), (1, "a")], "ascending"),
        ([(1, "a"), (9, "b")], "not uploaded"),
        ([], "at least one part"),
    ],
)
def test_refused_completions(
    store: ObjectStore, claimed: list[tuple[int, str]], problem: str
) -> None:
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    etags = {
        "a": store.upload_part(KEY, upload_id, 1, b"some bytes").etag,
        "b": store.upload_part(KEY, upload_id, 2, b"more bytes").etag,
    }
    claimed = [(n, etags.get(e, e)) for n, e in claimed]
    with pytest.raises(InvalidUploadError, match=problem):
        store.complete_multipart(KEY, upload_id, claimed)
    assert not store.exists(KEY)
    store.abort_multipart(KEY, upload_id)


def test_a_short_part_before_the_last_is_refused(store: ObjectStore) -> None:
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    one = store.upload_part(KEY, upload_id, 1, b"short")
    two = store.upload_part(KEY, upload_id, 2, b"last")
    with pytest.raises(InvalidUploadError, match="at least"):
        store.complete_multipart(KEY, upload_id, [(1, one.etag), (2, two.etag)])
    store.abort_multipart(KEY, upload_id)


def test_abort_and_unknown_uploads(store: ObjectStore) -> None:
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    store.upload_part(KEY, upload_id, 1, b"bytes")
    store.abort_multipart(KEY, upload_id)
    store.abort_multipart(KEY, upload_id)  # gone already: still fine
    with pytest.raises(UploadNotFoundError):
        store.list_parts(KEY, upload_id)
    on_moto = isinstance(store, S3Store) and server_at(store.endpoint_url).name == "moto"
    if not on_moto:  # moto answers a part of an aborted upload with a 500
        with pytest.raises(UploadNotFoundError):
            store.upload_part(KEY, upload_id, 1, b"late")
    other = store.create_multipart(KEY, content_type="video/mp4")
    if not on_moto:  # moto lists an upload under any key it is asked for
        with pytest.raises(UploadNotFoundError):  # an upload id is bound to its key
            store.list_parts("temp/1700000000/ffffffffffffffffffffffffffffffff_x.mp4", other)
    with pytest.raises(UploadNotFoundError):
        store.list_parts(KEY, "0" * 32)
    with pytest.raises(InvalidUploadError):
        store.upload_part(KEY, other, 10_001, b"x")
    store.abort_multipart(KEY, other)
    assert not store.exists(KEY)


def test_presigned_part_urls_are_bound_to_their_part(store: ObjectStore) -> None:
    upload_id = store.create_multipart(KEY, content_type="video/mp4")
    one = store.presign_upload_part(KEY, upload_id, 1, expires_in=600)
    two = store.presign_upload_part(KEY, upload_id, 2, expires_in=600)
    assert one.method == "PUT"
    assert one.url != two.url
    assert "uploadId=" in one.url
    assert "partNumber=1" in one.url
    store.abort_multipart(KEY, upload_id)


def test_the_embedded_sweep_aborts_stale_uploads(tmp_path: os.PathLike[str]) -> None:
    store = LocalStore(os.path.join(tmp_path, "store"))
    stale = store.create_multipart(KEY, content_type="video/mp4")
    store.upload_part(KEY, stale, 1, b"old part")
    later = datetime.now(UTC) + timedelta(days=2)
    fresh_cutoff = datetime.now(UTC) - timedelta(days=1)
    assert store.abort_stale_multipart(fresh_cutoff) == 0
    assert store.abort_stale_multipart(later, apply=False) == 1
    assert store.list_parts(KEY, stale)  # a dry run leaves it
    assert store.abort_stale_multipart(later) == 1
    with pytest.raises(UploadNotFoundError):
        store.list_parts(KEY, stale)
    assert os.listdir(store.root / "multipart") == []
