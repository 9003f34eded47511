"""Server-side copies above the single-copy limit go in parts (UploadPartCopy); the limit is
a parameter, lowered here so that moto runs that path with a 12 MB object."""

from __future__ import annotations

import os

import pytest

from sartiq_storage.adapters.stores import md5_from_etag
from sartiq_storage.core.errors import PreconditionFailedError
from sartiq_storage.testing.moto_server import make_bucket, moto_client, moto_store

MiB = 1024 * 1024


def test_a_copy_over_the_threshold_is_a_multipart_copy_with_the_metadata_given(
    moto_endpoint: str,
) -> None:
    bucket = make_bucket(moto_endpoint)
    store = moto_store(
        moto_endpoint, bucket, multipart_copy_threshold=8 * MiB, copy_part_size=5 * MiB
    )
    data = os.urandom(12 * MiB + 3)
    store.put("temp/big.mp4", data, content_type="application/octet-stream")
    info = store.head("temp/big.mp4")
    copied = store.copy(
        "temp/big.mp4",
        "media/big/file.mp4",
        content_type="video/mp4",
        cache_control="public, max-age=31536000, immutable",
        if_absent=True,
        source_info=info,
    )
    assert copied.size == len(data)
    assert copied.etag is not None
    assert copied.etag.endswith("-3")
    assert md5_from_etag(copied.etag) is None  # a multipart ETag is not an MD5
    assert store.get_bytes("media/big/file.mp4") == data
    head = moto_client(moto_endpoint).head_object(Bucket=bucket, Key="media/big/file.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    with pytest.raises(PreconditionFailedError):  # create-only, in parts too
        store.copy("temp/big.mp4", "media/big/file.mp4", content_type="video/mp4", if_absent=True)


def test_below_the_threshold_a_copy_is_one_request(moto_endpoint: str) -> None:
    store = moto_store(moto_endpoint, make_bucket(moto_endpoint), multipart_copy_threshold=8 * MiB)
    store.put("temp/small.mp4", os.urandom(MiB))
    copied = store.copy("temp/small.mp4", "media/s/file.mp4", content_type="video/mp4")
    assert md5_from_etag(copied.etag) is not None
