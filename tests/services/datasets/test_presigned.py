"""The pre-signed data path in the engine: signed link addresses, link checks against what the
store holds, the link window and GC, and pre-signed multipart on S3 (moto's server)."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import MemoryStore, S3Store
from sartiq_storage.core.datasets.errors import (
    InvalidArgumentError,
    NotSupportedError,
    PreconditionFailedError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
)
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.link_addresses import LINK_ADDRESS_SECONDS

REPO = "pre"
DATA = b"a parquet file, in spirit"
MD5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> NativeDatasetEngine:
    store = MemoryStore(signer=UrlSigner("test-signing-secret", "http://127.0.0.1:9"))
    engine = NativeDatasetEngine(MemoryKV(), store, clock=clock)
    engine.create_repository(REPO, f"local://datasets/{REPO}")
    return engine


def _uploaded(engine: NativeDatasetEngine, path: str, data: bytes = DATA) -> str:
    """Issue an address for ``path`` on main and put ``data`` there as a client would."""
    staging, request = engine.presign_upload(REPO, "main", path)
    assert request is not None
    assert request.method == "PUT"
    engine.store.put(staging.key, data)
    return staging.physical_address


def test_an_issued_address_is_signed_unique_and_inside_the_namespace(
    engine: NativeDatasetEngine,
) -> None:
    first, request = engine.presign_upload(REPO, "main", "a.parquet")
    second, _ = engine.presign_upload(REPO, "main", "a.parquet")
    assert first.address != second.address
    assert first.address.startswith("data/presigned/")
    assert "," in first.address  # the signature, as lakeFS appends it
    assert first.physical_address == f"local://datasets/{REPO}/{first.address}"
    assert first.key == f"datasets/{REPO}/{first.address}"
    assert request is not None
    assert "/_storage/objects/" in request.url
    bare, none = engine.presign_upload(REPO, "main", "a.parquet", presign=False)
    assert none is None
    assert bare.address.startswith("data/presigned/")


def test_link_stages_the_uploaded_object_with_the_stores_checksum(
    engine: NativeDatasetEngine,
) -> None:
    physical = _uploaded(engine, "t/a.parquet")
    entry = engine.link_physical_address(
        REPO,
        "main",
        "t/a.parquet",
        physical,
        size=len(DATA),
        checksum=f'"{MD5}"',
        content_type="application/x-parquet",
        metadata={"run": "7"},
    )
    assert (entry.checksum, entry.size, entry.content_type) == (
        MD5,
        len(DATA),
        "application/x-parquet",
    )
    assert b"".join(engine.get_object(REPO, "main", "t/a.parquet")) == DATA
    engine.commit(REPO, "main", "add a")
    assert engine.stat_object(REPO, "main", "t/a.parquet").metadata == {"run": "7"}


@pytest.mark.parametrize(
    ("size", "checksum", "words"),
    [
        (len(DATA) + 1, MD5, "does not match the"),
        (len(DATA), "0" * 32, "does not match the uploaded object's ETag"),
        (len(DATA), " ", "checksum is required"),
    ],
)
def test_link_refuses_a_size_or_checksum_the_store_does_not_hold(
    engine: NativeDatasetEngine, size: int, checksum: str, words: str
) -> None:
    physical = _uploaded(engine, "x.bin")
    with pytest.raises(InvalidArgumentError, match=words):
        engine.link_physical_address(REPO, "main", "x.bin", physical, size=size, checksum=checksum)
    assert engine.list_objects(REPO, "main").items == ()


def test_link_refuses_addresses_we_did_not_issue_for_this_path(
    engine: NativeDatasetEngine,
) -> None:
    physical = _uploaded(engine, "mine.bin")
    ns = f"local://datasets/{REPO}"
    address = physical[len(ns) + 1 :]
    unsigned = address.rsplit(",", 1)[0]
    tampered = address[:-2] + ("AA" if not address.endswith("AA") else "BB")
    refusals = {
        "other.bin": physical,  # issued for another path
        "mine.bin": f"{ns}/{tampered}",
    }
    for path, candidate in refusals.items():
        with pytest.raises(InvalidArgumentError, match="link address invalid"):
            engine.link_physical_address(
                REPO, "main", path, candidate, size=len(DATA), checksum=MD5
            )
    for candidate in (f"{ns}/{unsigned}", f"{ns}/data/ab/{'0' * 64}"):
        with pytest.raises(InvalidArgumentError, match="not signed"):
            engine.link_physical_address(
                REPO, "main", "mine.bin", candidate, size=len(DATA), checksum=MD5
            )
    for foreign in ("s3://elsewhere/data/x", "local://datasets/other/" + address, address):
        with pytest.raises(InvalidArgumentError, match="relative to the storage namespace"):
            engine.link_physical_address(
                REPO, "main", "mine.bin", foreign, size=len(DATA), checksum=MD5
            )
    engine.create_branch(REPO, "dev", "main")
    with pytest.raises(InvalidArgumentError, match="link address invalid"):
        engine.link_physical_address(
            REPO, "dev", "mine.bin", physical, size=len(DATA), checksum=MD5
        )
    assert engine.list_objects(REPO, "main").items == ()


def test_link_before_the_upload_is_refused(engine: NativeDatasetEngine) -> None:
    staging, _ = engine.presign_upload(REPO, "main", "late.bin")
    with pytest.raises(InvalidArgumentError, match="nothing was uploaded"):
        engine.link_physical_address(
            REPO, "main", "late.bin", staging.physical_address, size=1, checksum=MD5
        )


def test_an_address_expires_after_lakefs_link_window(
    engine: NativeDatasetEngine, clock: Clock
) -> None:
    physical = _uploaded(engine, "old.bin")
    clock.now += LINK_ADDRESS_SECONDS + 1
    with pytest.raises(InvalidArgumentError, match="link address expired"):
        engine.link_physical_address(
            REPO, "main", "old.bin", physical, size=len(DATA), checksum=MD5
        )


def test_create_only_link(engine: NativeDatasetEngine) -> None:
    first = _uploaded(engine, "once.bin")
    engine.link_physical_address(
        REPO, "main", "once.bin", first, size=len(DATA), checksum=MD5, if_absent=True
    )
    second = _uploaded(engine, "once.bin")
    with pytest.raises(PreconditionFailedError):
        engine.link_physical_address(
            REPO, "main", "once.bin", second, size=len(DATA), checksum=MD5, if_absent=True
        )


def test_protected_branches_and_read_only_repositories_refuse_issue_and_link(
    engine: NativeDatasetEngine,
) -> None:
    physical = _uploaded(engine, "p.bin")
    engine.set_branch_protection(REPO, ["main"])
    with pytest.raises(ProtectedBranchError):
        engine.presign_upload(REPO, "main", "p.bin")
    with pytest.raises(ProtectedBranchError):
        engine.link_physical_address(REPO, "main", "p.bin", physical, size=len(DATA), checksum=MD5)
    engine.create_repository("frozen", "local://datasets/frozen", read_only=True)
    with pytest.raises(ReadOnlyRepositoryError):
        engine.presign_upload("frozen", "main", "p.bin")


def test_gc_spares_uploads_that_may_still_be_linked_and_linked_ones_always(
    engine: NativeDatasetEngine, clock: Clock
) -> None:
    linked = _uploaded(engine, "linked.bin")
    engine.link_physical_address(REPO, "main", "linked.bin", linked, size=len(DATA), checksum=MD5)
    engine.commit(REPO, "main", "linked")
    staged = _uploaded(engine, "staged.bin", b"staged")
    engine.link_physical_address(
        REPO,
        "main",
        "staged.bin",
        staged,
        size=6,
        checksum=hashlib.md5(b"staged", usedforsecurity=False).hexdigest(),
    )
    pending = _uploaded(engine, "pending.bin", b"pending")
    pending_address = pending.split(f"datasets/{REPO}/", 1)[1]

    fresh = engine.gc(REPO, dry_run=False, grace_seconds=0)
    assert fresh.candidates == ()  # the pending upload can still be linked

    clock.now += LINK_ADDRESS_SECONDS + 1
    late = engine.gc(REPO, dry_run=False, grace_seconds=0)
    assert late.candidates == (pending_address,)
    assert not engine.store.exists(f"datasets/{REPO}/{pending_address}")
    assert b"".join(engine.get_object(REPO, "main", "linked.bin")) == DATA
    assert b"".join(engine.get_object(REPO, "main", "staged.bin")) == b"staged"


def test_presigned_reads_point_at_the_store(engine: NativeDatasetEngine) -> None:
    physical = _uploaded(engine, "r.bin")
    engine.link_physical_address(REPO, "main", "r.bin", physical, size=len(DATA), checksum=MD5)
    entry, request = engine.presign_download(REPO, "main", "r.bin")
    assert entry.path == "r.bin"
    assert request.method == "GET"
    assert "/_storage/objects/datasets/pre/data/presigned/" in (request.url.replace("%2C", ","))


def test_multipart_is_not_supported_without_multipart_in_the_store(
    engine: NativeDatasetEngine,
) -> None:
    assert engine.presign_multipart_supported is False
    with pytest.raises(NotSupportedError):
        engine.create_multipart(REPO, "main", "big.bin", 2)


def test_presigned_multipart_on_s3(s3_store: S3Store) -> None:
    engine = NativeDatasetEngine(MemoryKV(), s3_store)
    engine.create_repository(REPO, f"s3://{s3_store.bucket}/datasets/{REPO}")
    assert engine.presign_multipart_supported is True
    parts = [os.urandom(5 * 1024 * 1024), b"tail"]
    started = engine.create_multipart(REPO, "main", "big.bin", len(parts))
    assert len(started.part_urls) == 2
    assert started.staging.physical_address.startswith(f"s3://{s3_store.bucket}/datasets/pre/")
    etags = []
    for url, data in zip(started.part_urls, parts, strict=True):
        answer = httpx.put(url, content=data, timeout=60)
        assert answer.status_code == 200, answer.text
        etags.append(answer.headers["ETag"])
    with pytest.raises(InvalidArgumentError, match="parts are required"):
        engine.complete_multipart(
            REPO, "main", "big.bin", started.upload_id, started.staging.physical_address, []
        )
    entry = engine.complete_multipart(
        REPO,
        "main",
        "big.bin",
        started.upload_id,
        started.staging.physical_address,
        list(enumerate(etags, 1)),
        content_type="application/octet-stream",
    )
    assert entry.size == sum(len(p) for p in parts)
    assert entry.checksum.endswith("-2")
    assert b"".join(engine.get_object(REPO, "main", "big.bin")) == b"".join(parts)

    dropped = engine.create_multipart(REPO, "main", "gone.bin", 1)
    physical = dropped.staging.physical_address
    assert httpx.put(dropped.part_urls[0], content=b"part", timeout=60).status_code == 200
    with pytest.raises(InvalidArgumentError, match=r"refused the upload: .*ETag"):
        engine.complete_multipart(
            REPO, "main", "gone.bin", dropped.upload_id, physical, [(1, '"abc"')]
        )
    with pytest.raises(InvalidArgumentError, match="link address invalid"):
        engine.abort_multipart(REPO, "main", "other.bin", dropped.upload_id, physical)
    engine.abort_multipart(REPO, "main", "gone.bin", dropped.upload_id, physical)
    with pytest.raises(InvalidArgumentError, match="no multipart upload"):
        engine.abort_multipart(REPO, "main", "gone.bin", "no-such-upload", physical)
    assert [e.path for e in engine.list_objects(REPO, "main").items] == ["big.bin"]
