"""RangedReader: a stored object read and sought like a file, through bounded ranged GETs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectStore
from sartiq_storage.adapters.stores.ranged import MAX_FETCH, RangedReader
from sartiq_storage.core.errors import PreconditionFailedError
from sartiq_storage.testing.moto_server import make_bucket, moto_store


@pytest.fixture(params=["local", "moto"])
def some_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "data")
    endpoint = str(request.getfixturevalue("moto_endpoint"))
    return moto_store(endpoint, make_bucket(endpoint))


def test_reads_and_seeks_like_the_bytes_with_bounded_fetches(some_store: ObjectStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    some_store.put("media/r.bin", data)
    reader = RangedReader(some_store, some_store.head("media/r.bin"), read_ahead=64 * 1024)
    mirror = io.BytesIO(data)
    for offset, whence, size in [
        (0, io.SEEK_SET, 10),
        (5, io.SEEK_CUR, 70_000),  # across the read-ahead
        (-100, io.SEEK_END, 1000),  # past the end: what there is
        (1_000_000, io.SEEK_SET, 32_768),
        (1_000_100, io.SEEK_SET, 50),  # inside the buffer: no GET
        (0, io.SEEK_END, 5),
    ]:
        assert reader.seek(offset, whence) == mirror.seek(offset, whence)
        assert reader.read(size) == mirror.read(size)
        assert reader.tell() == mirror.tell()
    assert reader.stats.largest <= 70_000
    assert reader.stats.fetched < len(data) // 4
    big = bytearray(MAX_FETCH + 5)
    reader.seek(0)
    assert reader.readinto(big) == len(data)  # pieces of at most MAX_FETCH
    assert bytes(big[: len(data)]) == data
    assert reader.stats.largest <= MAX_FETCH
    with pytest.raises(ValueError, match="bounded"):
        reader.read()


def test_an_object_replaced_while_read_is_refused() -> None:
    store = MemoryStore()
    store.put("media/r.bin", b"a" * 1000)
    reader = RangedReader(store, store.head("media/r.bin"), read_ahead=100)
    assert reader.read(10) == b"a" * 10
    store.put("media/r.bin", b"b" * 1000)
    reader.seek(500)
    with pytest.raises(PreconditionFailedError):
        reader.read(10)


def test_a_head_given_is_read_without_a_get() -> None:
    store = MemoryStore()
    data = os.urandom(100_000)
    store.put("media/r.bin", data)
    reader = RangedReader(store, store.head("media/r.bin"), read_ahead=10_000, head=data[:4096])
    assert reader.read(4000) == data[:4000]
    assert reader.stats.requests == 0
    reader.seek(90_000)
    assert reader.read(100) == data[90_000:90_100]
    assert reader.stats.requests == 1
    reader.seek(2000)  # back into the head (a demuxer's first frame after its index)
    assert reader.read(2096) == data[2000:4096]
    assert reader.stats.requests == 1


def test_a_tail_given_is_read_without_a_get() -> None:
    store = MemoryStore()
    data = os.urandom(100_000)
    store.put("media/r.bin", data)
    info = store.head("media/r.bin")
    reader = RangedReader(store, info, read_ahead=10_000, head=data[:4096], tail=data[-8192:])
    reader.seek(-5000, io.SEEK_END)
    assert reader.read(5000) == data[-5000:]
    reader.seek(100)
    assert reader.read(100) == data[100:200]
    assert reader.stats.requests == 0
    reader.seek(50_000)
    assert reader.read(10) == data[50_000:50_010]
    assert reader.stats.requests == 1
