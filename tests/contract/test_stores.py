"""The object-store contract: every backend (memory, local disk, S3 on moto and SeaweedFS)
must pass it."""

from __future__ import annotations

import hashlib
import io
import threading
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from sartiq_storage.adapters.stores import ObjectStore, S3Store
from sartiq_storage.core.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
)
from tests.support.s3_servers import S3Server, server_at

IMMUTABLE = "public, max-age=31536000, immutable"


def test_put_then_head_and_get(store: ObjectStore) -> None:
    data = b"hello, storage"
    result = store.put("media/a/file.txt", data, content_type="text/plain", cache_control=IMMUTABLE)
    assert result.size == len(data)
    info = store.head("media/a/file.txt")
    assert info.size == len(data)
    assert info.content_type == "text/plain"
    assert info.cache_control == IMMUTABLE
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.last_modified.tzinfo is not None
    assert store.get_bytes("media/a/file.txt") == data


def test_put_streams_file_objects_and_iterables(store: ObjectStore) -> None:
    blob = bytes(range(256)) * 9000  # ~2.3 MB, several chunks
    store.put("temp/file-object", io.BytesIO(blob))
    store.put("temp/iterable", (blob[i : i + 100_000] for i in range(0, len(blob), 100_000)))
    assert store.get_bytes("temp/file-object") == blob
    assert store.get_bytes("temp/iterable") == blob
    assert store.head("temp/iterable").size == len(blob)


def test_get_streams_in_chunks(store: ObjectStore) -> None:
    blob = b"x" * (3 * 1024 * 1024 + 17)
    store.put("compute/big.bin", blob)
    with store.get("compute/big.bin") as stream:
        chunks = list(stream)
    assert b"".join(chunks) == blob
    assert stream.info.size == len(blob)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, 5, b"01234"), (5, None, b"56789"), (8, 100, b"89"), (3, 4, b"3"), (None, 2, b"01")],
)
def test_byte_ranges(
    store: ObjectStore, start: int | None, end: int | None, expected: bytes
) -> None:
    store.put("r/digits", b"0123456789")
    with store.get("r/digits", start=start, end=end) as stream:
        assert stream.read() == expected
        assert stream.length == len(expected)
        assert stream.info.size == 10


def test_range_past_the_end_is_refused(store: ObjectStore) -> None:
    store.put("r/short", b"abc")
    with pytest.raises(ValueError, match="past the end"):
        store.get("r/short", start=10).read()


def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.head("media/nope/file.png")
    with pytest.raises(ObjectNotFoundError):
        store.get("media/nope/file.png")
    assert not store.exists("media/nope/file.png")
    store.delete("media/nope/file.png")  # deleting what is gone is fine


def test_overwrite_replaces_and_create_only_refuses(store: ObjectStore) -> None:
    store.put("k/one", b"first")
    store.put("k/one", b"second")
    assert store.get_bytes("k/one") == b"second"
    with pytest.raises(PreconditionFailedError):
        store.put("k/one", b"third", if_absent=True)
    assert store.get_bytes("k/one") == b"second"
    store.put("k/two", b"fresh", if_absent=True)
    assert store.get_bytes("k/two") == b"fresh"


def test_create_only_race_has_one_winner(store: ObjectStore) -> None:
    wins: list[bytes] = []
    losses: list[Exception] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        body = f"writer-{i}".encode()
        barrier.wait()
        try:
            store.put("race/key", body, if_absent=True)
            wins.append(body)
        except PreconditionFailedError as exc:
            losses.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert len(losses) == 7
    assert store.get_bytes("race/key") == wins[0]


def test_copy_keeps_or_replaces_metadata(store: ObjectStore) -> None:
    store.put("temp/src.png", b"\x89PNG...", content_type="image/png")
    kept = store.copy("temp/src.png", "media/x/file.png")
    assert kept.content_type == "image/png"
    assert kept.size == 7
    replaced = store.copy(
        "temp/src.png", "media/y/file.png", content_type="image/webp", cache_control=IMMUTABLE
    )
    assert replaced.content_type == "image/webp"
    assert store.head("media/y/file.png").cache_control == IMMUTABLE
    assert store.get_bytes("media/y/file.png") == b"\x89PNG..."
    assert store.exists("temp/src.png")


def test_copy_create_only(store: ObjectStore) -> None:
    store.put("temp/a", b"A", content_type="text/plain")
    store.put("media/taken", b"B")
    with pytest.raises(PreconditionFailedError):
        store.copy("temp/a", "media/taken", if_absent=True, cache_control=IMMUTABLE)
    assert store.get_bytes("media/taken") == b"B"
    store.copy("temp/a", "media/free", if_absent=True, content_type="text/plain")
    assert store.get_bytes("media/free") == b"A"


def test_copy_of_missing_source(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.copy("temp/none", "media/z/file.png", content_type="image/png")
    assert not store.exists("media/z/file.png")


def test_delete_and_batch_delete(store: ObjectStore) -> None:
    keys = [f"batch/{i:03d}" for i in range(25)]
    for key in keys:
        store.put(key, key.encode())
    store.delete(keys[0])
    assert not store.exists(keys[0])
    failures = store.delete_many([*keys[1:], "batch/missing"])
    assert failures == []
    assert list(store.list("batch/")) == []


def test_batch_delete_reports_invalid_keys_without_stopping(store: ObjectStore) -> None:
    store.put("b/ok", b"1")
    failures = store.delete_many(["b/ok", "../escape"])
    assert [f.key for f in failures] == ["../escape"]
    assert not store.exists("b/ok")


def test_list_is_sorted_prefix_filtered_and_resumable(store: ObjectStore) -> None:
    keys = ["p/a-b", "p/ab", "p/ab/2", "p/abc/1", "p/b", "q", "pz"]
    for key in keys:
        store.put(key, b"x")
    assert [i.key for i in store.list("p/")] == ["p/a-b", "p/ab", "p/ab/2", "p/abc/1", "p/b"]
    # S3 prefixes are plain strings, not folders.
    assert [i.key for i in store.list("p/ab")] == ["p/ab", "p/ab/2", "p/abc/1"]
    assert [i.key for i in store.list("p")] == [
        "p/a-b",
        "p/ab",
        "p/ab/2",
        "p/abc/1",
        "p/b",
        "pz",
    ]
    assert [i.key for i in store.list("p/", start_after="p/ab")] == ["p/ab/2", "p/abc/1", "p/b"]
    assert [i.key for i in store.list("")] == sorted(keys)
    entry = next(iter(store.list("q")))
    assert entry.size == 1


def test_list_pages_through_many_keys(store: ObjectStore) -> None:
    keys = [f"many/{i:05d}" for i in range(2100)]
    if isinstance(store, S3Store):
        store.delete_many([])  # no-op on an empty batch
    for key in keys:
        store.put(key, b"")
    listed = store.list("many/")
    assert next(listed).key == "many/00000"  # a generator: pages are fetched lazily
    assert [i.key for i in listed] == keys[1:]
    # Resumed mid-way, over more than one page of the rest.
    assert [i.key for i in store.list("many/", start_after="many/00099")] == keys[100:]


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "a//b", "a\\b", "a/%2e%2e/b", "a\x00b", "x" * 1025]
)
def test_every_operation_validates_keys(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.head(key)
    with pytest.raises(InvalidKeyError):
        store.get(key)
    with pytest.raises(InvalidKeyError):
        store.delete(key)
    with pytest.raises(InvalidKeyError):
        store.copy("ok", key)


def test_keys_are_nfc_normalised_everywhere(store: ObjectStore) -> None:
    nfd = "media/cafe\u0301/file.png"
    nfc = "media/caf\u00e9/file.png"
    store.put(nfd, b"same object")
    assert store.get_bytes(nfc) == b"same object"
    assert [i.key for i in store.list("media/")] == [nfc]


def test_presign_put_binds_type_and_length(store: ObjectStore) -> None:
    request = store.presign_put(
        "temp/abc_1_photo.png", content_type="image/png", content_length=3, expires_in=600
    )
    assert request.method == "PUT"
    assert request.headers["Content-Type"] == "image/png"
    assert request.headers["Content-Length"] == "3"
    query = parse_qs(urlparse(request.url).query)
    if isinstance(store, S3Store):
        signed = query["X-Amz-SignedHeaders"][0].split(";")
        assert {"content-type", "content-length", "host", "if-none-match"} <= set(signed)
        assert query["X-Amz-Expires"] == ["600"]
    else:
        assert query["ct"] == ["image/png"]
        assert query["len"] == ["3"]
        assert query["once"] == ["1"]


def test_presigned_put_and_get_round_trip_on_s3(s3_server: S3Server, server_bucket: str) -> None:
    s3_store = s3_server.store(server_bucket)
    put = s3_store.presign_put("temp/up.png", content_type="image/png", expires_in=60)
    response = httpx.put(put.url, content=b"png-bytes", headers=put.headers)
    assert response.status_code == 200, response.text
    info = s3_store.head("temp/up.png")
    assert info.content_type == "image/png"
    get = s3_store.presign_get("temp/up.png", expires_in=60)
    assert httpx.get(get.url).content == b"png-bytes"
    s3_store.close()


def test_copy_is_independent_of_its_source(store: ObjectStore) -> None:
    """Overwriting or deleting the source never changes the copy (local: hard links)."""
    store.put("temp/orig", b"first", content_type="text/plain")
    store.copy("temp/orig", "media/copy/file.txt", if_absent=True, content_type="text/plain")
    store.put("temp/orig", b"second, longer")
    assert store.get_bytes("media/copy/file.txt") == b"first"
    assert store.head("media/copy/file.txt").md5 == hashlib.md5(b"first").hexdigest()
    store.delete("temp/orig")
    assert store.get_bytes("media/copy/file.txt") == b"first"


def test_local_copy_is_fresh_for_grace_periods(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A copy's last-modified is the copy's time, as on S3, even when the source is old."""
    import os
    import time

    from sartiq_storage.adapters.stores import LocalStore

    local = LocalStore(tmp_path / "store")
    local.put("temp/old", b"bytes")
    old = time.time() - 10 * 86400
    os.utime(local.objects / "temp/old.", (old, old))
    assert local.head("temp/old").last_modified.timestamp() < time.time() - 9 * 86400
    copied = local.copy("temp/old", "media/n/file.bin")
    assert copied.last_modified.timestamp() > time.time() - 60
    assert os.stat(local.objects / "media/n/file.bin.").st_nlink == 2  # zero-copy


def test_local_symlinks_lead_nowhere_outside(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A symlinked folder or file under ``objects/`` that points out of it is refused as a
    bad key; one that stays inside the root still works."""
    import os

    from sartiq_storage.adapters.stores import LocalStore

    local = LocalStore(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.").write_bytes(b"secret")
    os.symlink(outside, local.objects / "media")
    with pytest.raises(InvalidKeyError):
        local.get_bytes("media/secret")
    with pytest.raises(InvalidKeyError):
        local.put("media/new", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret."]
    local.put("temp/real", b"inside")
    os.symlink(local.objects / "temp", local.objects / "alias")
    assert local.get_bytes("alias/real") == b"inside"


def test_copy_pinned_to_the_source_seen(store: ObjectStore) -> None:
    """``source_info``: the copy is made only from the bytes the caller read (their ETag).
    On S3 that is ``x-amz-copy-source-if-match``, which SeaweedFS (like S3 and R2) honours
    and moto ignores: on moto the header itself is checked."""
    seen = store.put("temp/pinned", b"first")
    info = store.head("temp/pinned")
    assert info.etag == seen.etag
    sent: list[bytes | None] = []
    if isinstance(store, S3Store):
        store._client.meta.events.register(
            "before-send.s3.CopyObject",
            lambda request, **_: sent.append(request.headers.get("x-amz-copy-source-if-match")),
        )
    copied = store.copy("temp/pinned", "media/p1/file.bin", if_absent=True, source_info=info)
    assert copied.size == 5
    assert store.get_bytes("media/p1/file.bin") == b"first"
    store.put("temp/pinned", b"second, other bytes")
    if isinstance(store, S3Store):
        assert sent == [f'"{info.etag}"'.encode()]
        if not server_at(store.endpoint_url).strict:
            return  # moto: test_s3_pinned_copy_refused_as_s3_and_r2_refuse_it, via the proxy
    with pytest.raises(PreconditionFailedError) as caught:
        store.copy("temp/pinned", "media/p2/file.bin", if_absent=True, source_info=info)
    assert caught.value.key == "temp/pinned"
    with pytest.raises(ObjectNotFoundError):
        store.head("media/p2/file.bin")


def test_s3_pinned_copy_refused_as_s3_and_r2_refuse_it(s3_endpoint: str, s3_bucket: str) -> None:
    """Behind a proxy that answers ``x-amz-copy-source-if-match`` as S3 and R2 do: a copy
    pinned to an ETag the source no longer has is a ``PreconditionFailedError`` naming the
    source, and nothing is written."""
    from sartiq_storage.testing.moto_server import moto_store
    from tests.support.fault_proxy import fault_proxy

    with fault_proxy(s3_endpoint, lambda *_: None, conditional_copy=True) as (endpoint, _):
        store = moto_store(endpoint, s3_bucket, max_attempts=1)
        try:
            store.put("temp/swapped", b"first")
            seen = store.head("temp/swapped")
            kept = store.copy("temp/swapped", "media/s1/file.bin", source_info=seen)
            assert kept.size == 5
            store.put("temp/swapped", b"other bytes")
            with pytest.raises(PreconditionFailedError) as caught:
                store.copy(
                    "temp/swapped",
                    "media/s2/file.bin",
                    content_type="image/png",
                    source_info=seen,
                )
            assert caught.value.key == "temp/swapped"
            assert not store.exists("media/s2/file.bin")
        finally:
            store.close()
