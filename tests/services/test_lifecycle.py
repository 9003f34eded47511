"""Sweep: the policy enforced on stores without a lifecycle engine (embedded store, moto)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.adapters.stores import (
    DeleteFailure,
    LocalStore,
    MemoryStore,
    ObjectInfo,
    S3Store,
)
from sartiq_storage.core.lifecycle import LifecyclePolicy
from sartiq_storage.services.lifecycle import BATCH, SweepProgress, sweep
from tests.support.lifecycle_seed import DAY, Backdated, Seeded, keys, local_ager, seed


def by_prefix(report: Any) -> dict[str, Any]:
    return {p.prefix: p for p in report.prefixes}


def assert_full_cycle(store: Any, db: Database, policy: LifecyclePolicy, seeded: Seeded) -> None:
    """Dry run changes nothing; apply deletes exactly the due keys; a second run changes nothing."""
    everything = keys(store)
    assert everything == seeded.all

    dry = sweep(store, db, policy, now=seeded.now)
    assert not dry.applied
    assert keys(store) == everything
    stats = by_prefix(dry)
    assert set(stats) == {"compute/", "derived/", "temp/"}  # permanent prefixes never listed
    assert stats["temp/"].due == len([k for k in seeded.due if k.startswith("temp/")])
    assert stats["temp/"].spared == 1
    assert stats["compute/"].due == 1
    assert stats["derived/"].due == 1
    assert dry.due == len(seeded.due)
    assert dry.deleted == 0
    assert set().union(*(p.samples for p in dry.prefixes)) == seeded.due
    assert dry.due_bytes == sum(len(f"bytes of {k}") for k in seeded.due)

    done = sweep(store, db, policy, now=seeded.now, apply=True)
    assert done.applied
    assert done.deleted == len(seeded.due)
    assert done.deleted_bytes == dry.due_bytes
    assert done.failed == 0
    assert keys(store) == seeded.kept | seeded.spared

    again = sweep(store, db, policy, now=seeded.now, apply=True)
    assert again.due == 0
    assert again.deleted == 0
    assert again.spared == 1
    assert keys(store) == seeded.kept | seeded.spared


def test_sweep_on_the_embedded_store(
    local_store: LocalStore, db: Database, dev_policy: LifecyclePolicy
) -> None:
    seeded = seed(local_store, db, datetime.now(UTC), local_ager(local_store))
    assert_full_cycle(local_store, db, dev_policy, seeded)


def test_sweep_on_moto(s3_store: S3Store, db: Database, dev_policy: LifecyclePolicy) -> None:
    store = Backdated(s3_store)
    seeded = seed(store, db, datetime.now(UTC), store.age)  # type: ignore[arg-type]
    assert_full_cycle(store, db, dev_policy, seeded)


def test_sweep_on_moto_with_real_dates(
    s3_store: S3Store, db: Database, dev_policy: LifecyclePolicy
) -> None:
    """No backdating: the objects' own last-modified, judged at later moments."""
    for key in ("temp/x_1_a.png", "compute/generations/t/result_0.webp", "media/m/file.png"):
        s3_store.put(key, b"x")
    written = datetime.now(UTC)
    assert sweep(s3_store, db, dev_policy, now=written + timedelta(hours=23), apply=True).due == 0
    assert sweep(s3_store, db, dev_policy, now=written + 2 * DAY, apply=True).deleted == 1
    assert keys(s3_store) == {"compute/generations/t/result_0.webp", "media/m/file.png"}
    assert sweep(s3_store, db, dev_policy, now=written + 4 * DAY, apply=True).deleted == 1
    assert keys(s3_store) == {"media/m/file.png"}
    assert sweep(s3_store, db, dev_policy, now=written + 9999 * DAY, apply=True).deleted == 0


class SpyStore(MemoryStore):
    """Counts what the sweep lists and how it deletes."""

    def __init__(self) -> None:
        super().__init__()
        self.listed = 0
        self.listed_at_first_delete: int | None = None
        self.delete_batches: list[int] = []
        self.refuse: set[str] = set()

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        for info in super().list(prefix, start_after=start_after):
            self.listed += 1
            yield info

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        batch = list(keys)
        if self.listed_at_first_delete is None:
            self.listed_at_first_delete = self.listed
        self.delete_batches.append(len(batch))
        refused = [DeleteFailure(k, "AccessDenied: injected") for k in batch if k in self.refuse]
        return refused + super().delete_many([k for k in batch if k not in self.refuse])


def test_batches_stream_and_query_intents_once_per_batch(
    db: Database, dev_policy: LifecyclePolicy
) -> None:
    store = SpyStore()
    total = 2 * BATCH + 345
    for i in range(total):
        store.put(f"temp/{i:06}_1700000000_f.png", b"x")
    now = datetime.now(UTC) + 2 * DAY
    with db.session() as session:
        session.add(
            UploadIntent(
                storage_key="temp/000007_1700000000_f.png",
                filename="f.png",
                content_type="image/png",
                requester="t",
                expires_at=now + timedelta(minutes=5),
            )
        )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "upload_intents" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        report = sweep(store, db, dev_policy, now=now, apply=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 3  # one query per batch of candidates, not one per key
    assert store.delete_batches == [BATCH - 1, BATCH, 345]  # the spared key left batch one
    assert max(store.delete_batches) <= BATCH
    # Deleting began after the first batch was listed, long before the listing ended.
    assert store.listed_at_first_delete == BATCH
    assert report.deleted == total - 1
    assert report.spared == 1
    assert keys(store) == {"temp/000007_1700000000_f.png"}


def test_failures_are_reported_and_retried_next_time(
    dev_policy: LifecyclePolicy, db: Database
) -> None:
    store = SpyStore()
    for name in ("a", "b", "c"):
        store.put(f"temp/{name}_1_f.png", b"xy")
    store.refuse = {"temp/b_1_f.png"}
    now = datetime.now(UTC) + 2 * DAY
    report = sweep(store, db, dev_policy, now=now, apply=True)
    assert (report.deleted, report.failed) == (2, 1)
    assert [(f.key, f.error) for f in report.failures] == [
        ("temp/b_1_f.png", "AccessDenied: injected")
    ]
    assert report.as_dict()["totals"]["failed"] == 1
    store.refuse = set()
    retry = sweep(store, db, dev_policy, now=now, apply=True)
    assert (retry.deleted, retry.failed) == (1, 0)


def test_progress_callback(dev_policy: LifecyclePolicy, db: Database) -> None:
    store = MemoryStore()
    store.put("temp/a_1_f.png", b"x")
    store.put("compute/x/result_0.webp", b"x")
    events: list[SweepProgress] = []
    sweep(store, db, dev_policy, now=datetime.now(UTC) + 5 * DAY, progress=events.append)
    finished = {e.prefix: e for e in events if e.done}
    assert set(finished) == {"compute/", "derived/", "temp/"}
    assert (finished["temp/"].scanned, finished["temp/"].due) == (1, 1)
    assert finished["derived/"].scanned == 0


def test_report_as_dict_and_naive_now(dev_policy: LifecyclePolicy, db: Database) -> None:
    store = MemoryStore()
    report = sweep(store, db, dev_policy, now=datetime.now(UTC))
    data = report.as_dict()
    assert data["applied"] is False
    assert [p["prefix"] for p in data["prefixes"]] == ["compute/", "derived/", "temp/"]
    with pytest.raises(ValueError, match="timezone-aware"):
        sweep(store, db, dev_policy, now=datetime.now())
