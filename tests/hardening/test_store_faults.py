"""Store faults (issue 8): S3Store behind a fault-injecting proxy on 127.0.0.1, in front of
each selected S3 server (moto, and SeaweedFS, which checks every signature the proxy forwards).

* A bounded, seeded run of mixed operations at 20 % faults (500, 503 ``SlowDown``, resets
  mid-request, read timeouts, applied-but-lost answers, cut bodies) loses and duplicates
  nothing and lets only typed errors through (``store_faults.py`` says exactly what is checked;
  the 10,000-operation run is ``python -m tests.hardening.store_faults``).
* The checks catch a store that breaks those rules (a mutant that loses writes, one that leaks
  botocore's exceptions), so a green run means something.
* A ``DeleteObjects`` answered with per-key errors sends exactly those keys to dead letters,
  through the deletion queue; the letters back off exponentially, capped and jittered, and
  drain once the faults stop.
* An ETag is an MD5 only when it is a plain 32-hex value.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.adapters.stores import ObjectInfo, S3Store, md5_from_etag
from sartiq_storage.adapters.stores.base import normalize_etag
from sartiq_storage.services.media.deletions import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DeletionQueue,
    enqueue,
)
from sartiq_storage.testing.moto_server import moto_client, moto_store, s3_store_of
from tests.hardening.store_faults import FAULT_KINDS_USED, RunConfig, run
from tests.support.db import sqlite_database
from tests.support.fault_proxy import fault_proxy
from tests.support.s3_servers import S3Server

CI_OPS = 1000
"""Bounded for CI (about 30 s on two shared cores); the long run takes ``--ops 10000``."""


# -- the mixed run -------------------------------------------------------------------------


def test_mixed_operations_at_20_percent_faults_lose_and_duplicate_nothing(
    s3_server: S3Server,
) -> None:
    # A 3-s client timeout: a slow answer from a busy CI machine must not pass for a fault.
    config = RunConfig(ops=CI_OPS, fault_rate=0.2, seed=8, timeout=3.0)
    report = run(config, endpoint=s3_server.endpoint)
    summary = report.summary()
    assert report.violations == [], summary
    assert not [k for k in report.errors if "UNTYPED" in k], summary
    # The run did what it claims: every fault kind happened, and clients retried through them.
    assert set(report.faults) == set(FAULT_KINDS_USED), summary
    assert 0.15 < sum(report.faults.values()) / report.requests < 0.25, summary
    assert report.retries > sum(report.faults.values()) / 2, summary
    assert sum(report.ops.values()) == CI_OPS, summary
    assert report.acknowledged_writes > CI_OPS // 3, summary
    assert report.delete_many_failures > 0, summary  # per-key failures were exercised


class _LosesAWriteAfterAFault(S3Store):
    """A mutant: after a failed create-only PUT it answers success without writing."""

    def put(self, key: str, body: Any, **kw: Any) -> Any:
        try:
            return super().put(key, body, **kw)
        except Exception:
            if kw.get("if_absent"):
                return None
            raise

    def _put_create(self, key: str, body: Any, attributes: dict[str, str]) -> Any:
        import obstore

        with self._errors(key):  # the original: no repeat, so resets reach put() above
            return obstore.put(self._store, key, body, attributes=attributes or None, mode="create")


class _LeaksBotocore(S3Store):
    """A mutant: lets botocore's exceptions out of create-only copies."""

    def copy(self, source: str, destination: str, **kw: Any) -> ObjectInfo:
        if kw.get("if_absent"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=destination)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                    raise
            else:
                raise ClientError(
                    {"Error": {"Code": "PreconditionFailed", "Message": "exists"}}, "CopyObject"
                )
        return super().copy(source, destination, **kw)


@pytest.mark.parametrize(
    ("mutant", "expected", "config"),
    [
        (
            _LosesAWriteAfterAFault,
            "acknowledged but",
            RunConfig(ops=80, fault_rate=0.5, seed=5, workers=4, kinds={"reset": 1.0}),
        ),
        (
            _LeaksBotocore,
            "leaked an untyped botocore.exceptions.ClientError",
            RunConfig(ops=120, fault_rate=0.0, seed=5, workers=2),
        ),
    ],
    ids=["loses-a-write", "leaks-botocore"],
)
def test_the_checks_catch_a_store_that_breaks_the_rules(
    s3_server: S3Server, mutant: type[S3Store], expected: str, config: RunConfig
) -> None:
    def factory(endpoint: str, bucket: str, flavor: str, timeout: float) -> S3Store:
        return s3_store_of(mutant, endpoint, bucket, flavor=flavor, read_timeout=timeout)

    report = run(config, endpoint=s3_server.endpoint, store_factory=factory)
    assert any(expected in v for v in report.violations), report.summary()


# -- batch delete with per-key failures, dead letters, backoff --------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with sqlite_database(tmp_path) as db:
        yield db


def _letters(db: Database) -> dict[str, MediaDeletionDeadLetter]:
    with db.session() as session:
        return {
            letter.storage_key: letter
            for letter in session.scalars(select(MediaDeletionDeadLetter))
        }


def test_per_key_delete_failures_become_exactly_those_dead_letters_then_drain(
    s3_server: S3Server, server_bucket: str, database: Database
) -> None:
    random.seed(20260801)  # the jitter draws: reproducible
    direct = moto_store(s3_server.endpoint, server_bucket)
    keys = [f"temp/dl/{i:02d}_1706000000_photo.png" for i in range(24)]
    for key in keys:
        direct.put(key, key.encode(), content_type="image/png")
    failing = set(keys[3::4])  # 6 keys the store refuses to delete, one by one

    posts = 0

    def decide(method: str, path: str, n: int) -> str | None:
        # The batch's first attempt is throttled, its second applied but its answer lost:
        # boto3 repeats it, and the repeat must still report exactly the failing keys.
        nonlocal posts
        if method != "POST":
            return None
        posts += 1
        return {1: "503", 2: "lost"}.get(posts)

    def refuse(key: str) -> str | None:
        return "InternalError" if key in failing else None

    with fault_proxy(s3_server.endpoint, decide, delete_errors=refuse) as (url, proxy):
        store = moto_store(url, server_bucket)
        queue = DeletionQueue(database, store)
        with database.session() as session:
            enqueue(session, keys, "test")
        report = queue.drain()

        assert set(report.failed) == failing
        assert sorted(report.deleted) == sorted(set(keys) - failing)
        assert proxy.by_kind == {"503": 1, "lost": 1}
        letters = _letters(database)
        assert set(letters) == failing
        assert {letter.attempts for letter in letters.values()} == {1}
        assert all("InternalError" in letter.error_message for letter in letters.values())
        assert {k for k in keys if direct.exists(k)} == failing

        # While the store keeps refusing, each retry backs off further: the delay for attempt
        # n lies in [c/2, c] with c = min(cap, base * 2^(n-1)), and differs between letters.
        delays: dict[int, list[timedelta]] = {}
        for _ in range(10):
            for letter in _letters(database).values():
                delay = letter.next_attempt_at - letter.last_attempted_at
                delays.setdefault(letter.attempts, []).append(delay)
            retried = queue.retry_dead_letters(now=utcnow() + BACKOFF_CAP + timedelta(hours=1))
            assert set(retried.failed) == failing
        for letter in _letters(database).values():
            delays.setdefault(letter.attempts, []).append(
                letter.next_attempt_at - letter.last_attempted_at
            )
        assert sorted(delays) == list(range(1, 12))
        for attempts, seen in delays.items():
            ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
            assert all(ceiling / 2 <= d <= ceiling for d in seen), (attempts, seen)
            assert len(set(seen)) == len(failing), f"no jitter at attempt {attempts}: {seen}"
        assert max(delays[11]) <= BACKOFF_CAP
        assert min(delays[11]) >= BACKOFF_CAP / 2
        assert BACKOFF_BASE * 2**10 > BACKOFF_CAP  # attempt 11 is past the cap: it binds

        # Not due yet: nothing is retried before its time.
        assert queue.retry_dead_letters().failed == {}

        # The faults stop: the letters drain, and the objects are gone.
        proxy.delete_errors = None
        drained = queue.retry_dead_letters(now=utcnow() + BACKOFF_CAP + timedelta(hours=1))
        assert sorted(drained.deleted) == sorted(failing)
        assert _letters(database) == {}
        assert not any(direct.exists(k) for k in keys)
        store.close()
    direct.close()


# -- ETags -----------------------------------------------------------------------------------

_MD5 = hashlib.md5(b"x", usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("etag", "md5"),
    [
        (_MD5, _MD5),
        (f'"{_MD5}"', _MD5),
        (_MD5.upper(), _MD5),
        (f'"{_MD5}-3"', None),  # multipart: MD5 of the part MD5s, then the part count
        ("abc-3", None),
        (f"{_MD5}-1", None),
        (f'W/"{_MD5}"', None),  # weak: "equivalent", e.g. recompressed by a CDN
        (f'""{_MD5}""', None),
        (f'"{_MD5}', None),
        (_MD5[:31], None),
        (_MD5 + "0", None),
        (_MD5[:31] + "g", None),
        ("Ab1" * 11, None),  # 33 characters
        ("", None),
        (None, None),
        ("opaque-sse-kms-etag-value", None),
    ],
)
def test_an_etag_is_an_md5_only_when_it_is_plain_32_hex(etag: str | None, md5: str | None) -> None:
    assert md5_from_etag(etag) == md5
    # What the S3 adapter keeps of an ETag (normalize_etag) keeps a weak one weak.
    if etag is not None and etag.startswith("W/"):
        assert md5_from_etag(normalize_etag(etag)) is None


def test_s3_reports_md5_for_single_part_objects_only(
    s3_server: S3Server, server_bucket: str
) -> None:
    store = moto_store(s3_server.endpoint, server_bucket)
    part = b"p" * (5 * 1024 * 1024)
    client = moto_client(s3_server.endpoint)
    upload = client.create_multipart_upload(Bucket=server_bucket, Key="e/multi")
    sent = client.upload_part(
        Bucket=server_bucket, Key="e/multi", UploadId=upload["UploadId"], PartNumber=1, Body=part
    )
    client.complete_multipart_upload(
        Bucket=server_bucket,
        Key="e/multi",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": sent["ETag"]}]},
    )
    store.put("e/single", b"x")
    multi = store.head("e/multi")
    assert multi.etag is not None
    assert multi.etag.endswith("-1")
    assert multi.md5 is None  # the ingest path hashes the bytes instead
    assert store.head("e/single").md5 == _MD5
    assert {i.key: i.md5 for i in store.list("e/")} == {"e/multi": None, "e/single": _MD5}
    store.close()
