"""Object-store throughput: each backend against the plain library calls it wraps."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import obstore
from botocore.config import Config
from obstore.store import S3Store as RawS3Store

from bench.harness import (
    KIB,
    MB,
    MIB,
    Result,
    Round,
    ensure_repo_on_path,
    filesystem_of,
    measure,
)
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectStore, S3Store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TITLE = "Object stores"
DESCRIPTION = """\
Put, get, copy and list throughput of each `ObjectStore` backend against the plain library
calls it wraps, measured side by side in the same run (alternating rounds, median of 7
timed rounds after an untimed warm-up; a quick run times 2). Each case uses a fresh store
and a fresh baseline.

* **local**: `LocalStore` in a temporary folder against plain Python file I/O doing the same
  durable work: put = write a temp file, fsync, `os.replace`; get = `open` + `read`;
  copy = `shutil.copyfile` to a temp file, fsync, `os.replace`; list = a sorted recursive
  `os.scandir` walk that stats each file.
* **memory**: `MemoryStore` against a plain `dict`: set, get, `d[dst] = d[src]`, and
  `sorted()` over the keys.
* **s3**: `S3Store` against a moto S3 server on loopback (a separate process) against raw
  `obstore` calls (`obstore.put` / `get` / `list` on an `obstore.store.S3Store` configured the
  same way) for put, get and list, and a raw boto3 `copy_object` (`MetadataDirective=REPLACE`
  with `ContentType` and `CacheControl`) for copy, which is what our copy with metadata uses.
  Moto is slow and single-process, so these figures bound the client overhead from above
  rather than predict R2 throughput.

Every copy sets a content type and cache control (the metadata-replacing path). Small objects
are 4 KiB (ops/s), large ones 1 MiB (MB/s, 10^6 bytes); list walks 2,000 keys spread over
20 folders (keys/s).

The memory baseline is a bare `dict` operation (well under a microsecond, no bytes moved:
the dict keeps a reference), so the memory ratios show our fixed per-call cost (key
validation, MD5 for the ETag, `ObjectInfo`, the lock), not a data-path slowdown; its 1 MiB
"MB/s" figures are references handed around, not bytes copied.\
"""

SMALL = 4 * KIB
LARGE = 1 * MIB
LIST_FOLDERS = 20
CONTENT_TYPE = "application/octet-stream"
CACHE_CONTROL = "public, max-age=60"
ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret"
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Sizes:
    small: int
    large: int
    copies: int
    list_keys: int
    list_passes: int
    rounds: int
    warmup: bool


def sizes_for(backend: str, quick: bool) -> Sizes:
    if quick:
        return Sizes(50, 5, 50, 200, 1, rounds=2, warmup=False)
    if backend == "memory":
        return Sizes(10_000, 200, 10_000, 2_000, 100, rounds=7, warmup=True)
    if backend == "local":
        return Sizes(200, 40, 200, 2_000, 2, rounds=7, warmup=True)
    return Sizes(150, 20, 60, 2_000, 1, rounds=7, warmup=True)


# -- baselines: the plain calls each backend wraps --------------------------------------------


class Plain(ABC):
    """The baseline side: the same work done with plain library calls."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def copy(self, source: str, destination: str) -> None: ...

    @abstractmethod
    def listing(self, prefix: str) -> list[tuple[str, int]]:
        """``(key, size)`` pairs under ``prefix`` (a folder ending in ``/``), sorted."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Untimed cleanup between rounds."""


class PlainFiles(Plain):
    """Durable file writes with nothing else: no sidecar, no hashing, no key checks."""

    def __init__(self, root: Path) -> None:
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.objects.mkdir(parents=True)
        self.tmp.mkdir()

    def put(self, key: str, data: bytes) -> None:
        path = self.objects / key
        os.makedirs(path.parent, exist_ok=True)
        tmp = self.tmp / uuid.uuid4().hex
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        with open(self.objects / key, "rb") as handle:
            return handle.read()

    def copy(self, source: str, destination: str) -> None:
        path = self.objects / destination
        os.makedirs(path.parent, exist_ok=True)
        tmp = self.tmp / uuid.uuid4().hex
        shutil.copyfile(self.objects / source, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []

        def walk(folder: str, rel: str) -> None:
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, f"{rel}{entry.name}/")
                else:
                    found.append((rel + entry.name, entry.stat(follow_symlinks=False).st_size))

        walk(str(self.objects / prefix), prefix)
        return found

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.objects / key).unlink(missing_ok=True)


class PlainDict(Plain):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.data[key] = data

    def get(self, key: str) -> bytes:
        return self.data[key]

    def copy(self, source: str, destination: str) -> None:
        self.data[destination] = self.data[source]

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        data = self.data
        return [(key, len(data[key])) for key in sorted(data) if key.startswith(prefix)]

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.data.pop(key, None)


class PlainS3(Plain):
    """Raw obstore for the data plane, raw boto3 for the metadata-replacing copy."""

    def __init__(self, endpoint: str, bucket: str, client: S3Client) -> None:
        self.bucket = bucket
        self.client = client
        self.store = RawS3Store(
            bucket,
            endpoint=endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region=REGION,
            client_options={"allow_http": True},
            virtual_hosted_style_request=False,
        )

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self.store, key, data)

    def get(self, key: str) -> bytes:
        return bytes(obstore.get(self.store, key).bytes())

    def copy(self, source: str, destination: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=destination,
            CopySource={"Bucket": self.bucket, "Key": source},
            MetadataDirective="REPLACE",
            ContentType=CONTENT_TYPE,
            CacheControl=CACHE_CONTROL,
        )

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        pages = obstore.list(self.store, prefix=prefix.rstrip("/") or None, chunk_size=1000)
        return [(meta["path"], meta["size"]) for page in pages for meta in page]

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )


# -- the cases, shared by every backend ------------------------------------------------------

Pair = tuple[ObjectStore, Plain]
Rounds = tuple[Round, Round]


def _ours_delete(store: ObjectStore, keys: list[str]) -> None:
    failures = store.delete_many(keys)
    if failures:
        raise RuntimeError(f"cleanup failed: {failures[:3]}")


def _fill(pair: Pair, keys: list[str], data: bytes, threads: int) -> None:
    """Write the same objects through both sides (untimed setup)."""
    store, plain = pair

    def both(key: str) -> None:
        store.put(key, data)
        plain.put(key, data)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(both, keys))


def put_case(pair: Pair, data: bytes, count: int) -> Rounds:
    """Write ``count`` new objects; the round's objects are deleted afterwards, untimed."""
    store, plain = pair

    def keys(number: int) -> list[str]:
        return [f"put/r{number}/{i:05d}" for i in range(count)]

    def ours(number: int) -> float:
        todo = keys(number)
        start = time.perf_counter()
        for key in todo:
            store.put(key, data)
        elapsed = time.perf_counter() - start
        _ours_delete(store, todo)
        return elapsed

    def base(number: int) -> float:
        todo = keys(number)
        start = time.perf_counter()
        for key in todo:
            plain.put(key, data)
        elapsed = time.perf_counter() - start
        plain.delete(todo)
        return elapsed

    return ours, base


def get_case(pair: Pair, data: bytes, count: int, threads: int) -> Rounds:
    """Read ``count`` existing objects whole."""
    store, plain = pair
    todo = [f"get/{i:05d}" for i in range(count)]
    _fill(pair, todo, data, threads)
    expected = count * len(data)

    def ours(_: int) -> float:
        total = 0
        start = time.perf_counter()
        for key in todo:
            total += len(store.get_bytes(key))
        elapsed = time.perf_counter() - start
        assert total == expected, (total, expected)
        return elapsed

    def base(_: int) -> float:
        total = 0
        start = time.perf_counter()
        for key in todo:
            total += len(plain.get(key))
        elapsed = time.perf_counter() - start
        assert total == expected, (total, expected)
        return elapsed

    return ours, base


def copy_case(pair: Pair, data: bytes, count: int, threads: int) -> Rounds:
    """Copy ``count`` objects to new keys, replacing content type and cache control."""
    store, plain = pair
    sources = [f"src/{i:05d}" for i in range(count)]
    _fill(pair, sources, data, threads)

    def pairs(number: int) -> list[tuple[str, str]]:
        return [(src, f"dst/r{number}/{i:05d}") for i, src in enumerate(sources)]

    def ours(number: int) -> float:
        todo = pairs(number)
        start = time.perf_counter()
        for src, dst in todo:
            store.copy(src, dst, content_type=CONTENT_TYPE, cache_control=CACHE_CONTROL)
        elapsed = time.perf_counter() - start
        _ours_delete(store, [dst for _, dst in todo])
        return elapsed

    def base(number: int) -> float:
        todo = pairs(number)
        start = time.perf_counter()
        for src, dst in todo:
            plain.copy(src, dst)
        elapsed = time.perf_counter() - start
        plain.delete([dst for _, dst in todo])
        return elapsed

    return ours, base


def list_case(pair: Pair, keys: int, passes: int, threads: int) -> Rounds:
    """List ``keys`` keys spread over folders, ``passes`` times per round."""
    store, plain = pair
    names = [f"list/d{i % LIST_FOLDERS:02d}/{i:05d}" for i in range(keys)]
    _fill(pair, names, b"x" * 64, threads)

    def ours(_: int) -> float:
        start = time.perf_counter()
        for _pass in range(passes):
            seen = sum(1 for _info in store.list("list/"))
            assert seen == keys, seen
        return time.perf_counter() - start

    def base(_: int) -> float:
        start = time.perf_counter()
        for _pass in range(passes):
            seen = len(plain.listing("list/"))
            assert seen == keys, seen
        return time.perf_counter() - start

    return ours, base


def run_backend(
    backend: str,
    new_pair: Callable[[], AbstractContextManager[Pair]],
    notes: dict[str, str],
    quick: bool,
    *,
    threads: int = 1,
) -> list[Result]:
    """The six cases of one backend, each on a fresh pair of stores."""
    sz = sizes_for(backend, quick)
    small = os.urandom(SMALL)
    large = os.urandom(LARGE)
    large_mb = len(large) / MB
    plan: list[tuple[str, str, Callable[[Pair], Rounds], float, str]] = [
        (
            "put",
            f"put 4 KiB x{sz.small}",
            lambda p: put_case(p, small, sz.small),
            sz.small,
            "ops/s",
        ),
        (
            "put",
            f"put 1 MiB x{sz.large}",
            lambda p: put_case(p, large, sz.large),
            sz.large * large_mb,
            "MB/s",
        ),
        (
            "get",
            f"get 4 KiB x{sz.small}",
            lambda p: get_case(p, small, sz.small, threads),
            sz.small,
            "ops/s",
        ),
        (
            "get",
            f"get 1 MiB x{sz.large}",
            lambda p: get_case(p, large, sz.large, threads),
            sz.large * large_mb,
            "MB/s",
        ),
        (
            "copy",
            f"copy 4 KiB x{sz.copies}",
            lambda p: copy_case(p, small, sz.copies, threads),
            sz.copies,
            "ops/s",
        ),
        (
            "list",
            f"list {sz.list_keys:,} keys x{sz.list_passes}",
            lambda p: list_case(p, sz.list_keys, sz.list_passes, threads),
            sz.list_keys * sz.list_passes,
            "keys/s",
        ),
    ]
    rows: list[Result] = []
    for op, case, build, work, unit in plan:
        with new_pair() as pair:
            ours, base = build(pair)
            rows.append(
                measure(
                    "stores",
                    f"{backend}: {case}",
                    ours,
                    base,
                    work=work,
                    unit=unit,
                    notes=notes[op],
                    rounds=sz.rounds,
                    warmup=sz.warmup,
                )
            )
    return rows


# -- the backends ----------------------------------------------------------------------------


def bench_local(quick: bool) -> list[Result]:
    fs = filesystem_of(tempfile.gettempdir())

    @contextmanager
    def new_pair() -> Iterator[Pair]:
        with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
            store = LocalStore(Path(tmp) / "ours")
            try:
                yield store, PlainFiles(Path(tmp) / "plain")
            finally:
                store.close()

    notes = {
        "put": (
            f"ours also validates the key, hashes MD5 for the ETag, writes a JSON metadata "
            f"sidecar and fsyncs the folder (temp dir on {fs})"
        ),
        "get": (
            "ours also validates the key, resolves it with os.path.realpath (an lstat per "
            "path segment) against escapes, stats the file and reads the metadata sidecar"
        ),
        "copy": "ours also hashes MD5, writes the metadata sidecar, fsyncs the folder, stats",
        "list": (
            "ours also validates the prefix, sorts in S3 key order (folders as name/) and "
            "builds an ObjectInfo per key"
        ),
    }
    return run_backend("local", new_pair, notes, quick)


def md5_rate() -> float:
    """MB/s of hashlib.md5 alone on this machine: the ceiling for an ETag-hashing put."""
    data = os.urandom(LARGE)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        hashlib.md5(data, usedforsecurity=False).hexdigest()
    return rounds * len(data) / MB / (time.perf_counter() - start)


def bench_memory(quick: bool) -> list[Result]:
    @contextmanager
    def new_pair() -> Iterator[Pair]:
        yield MemoryStore(), PlainDict()

    notes = {
        "put": (
            "ours validates the key, hashes MD5 for the ETag, takes a lock and keeps a sorted "
            f"index; the dict stores a reference and touches no bytes (hashlib.md5 alone: "
            f"{md5_rate():,.0f} MB/s)"
        ),
        "get": "ours validates the key and wraps the bytes in an ObjectStream (no copy)",
        "copy": "ours validates both keys, builds a new ObjectInfo and takes the lock",
        "list": "ours pages its sorted index under the lock; baseline sorts the dict each pass",
    }
    return run_backend("memory", new_pair, notes, quick)


def bench_s3(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    from sartiq_storage.testing.moto_server import moto_server

    with moto_server() as endpoint:
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=32,
            ),
        )

        def bucket() -> str:
            name = f"bench-{uuid.uuid4().hex[:16]}"
            client.create_bucket(Bucket=name)
            return name

        @contextmanager
        def new_pair() -> Iterator[Pair]:
            store = S3Store(
                bucket=bucket(),
                endpoint_url=endpoint,
                access_key_id=ACCESS_KEY,
                secret_access_key=SECRET_KEY,
                region=REGION,
            )
            try:
                yield store, PlainS3(endpoint, bucket(), client)
            finally:
                store.close()

        notes = {
            "put": "ours = key validation + obstore.put; moto server on loopback",
            "get": "ours streams through an ObjectStream and builds an ObjectInfo",
            "copy": (
                "ours also HEADs the source (size, metadata) to return the copy's ObjectInfo; "
                "the baseline is one CopyObject"
            ),
            "list": "ours filters by prefix and builds an ObjectInfo per key",
        }
        try:
            return run_backend("s3", new_pair, notes, quick, threads=8)
        finally:
            client.close()


def run(quick: bool) -> list[Result]:
    return [*bench_local(quick), *bench_memory(quick), *bench_s3(quick)]
