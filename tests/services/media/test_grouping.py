"""Concurrent single ingests share a transaction while another is being written."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaIngestion, MediaResourceAttachment
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.service import IngestResult, MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload

CALLERS = 8


def _queued(media: MediaResourceService) -> int:
    return len(media.ingestion.groups._waiting)


def _hold_first_commit(media: MediaResourceService, commits: list[int]):  # type: ignore[no-untyped-def]
    """A failpoint action: the first transaction waits until every other caller queued."""

    def action() -> None:
        commits.append(1)
        if len(commits) == 1:
            deadline = time.monotonic() + 30
            while _queued(media) < CALLERS - 1 and time.monotonic() < deadline:
                time.sleep(0.01)

    return action


def test_callers_arriving_during_a_write_are_recorded_in_one_transaction(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    sources = [upload(store, image_bytes("png", seed=300 + i)) for i in range(CALLERS)]
    targets = [product() for _ in range(CALLERS)]
    commits: list[int] = []
    with (
        failpoints.armed("ingest.before_commit", _hold_first_commit(media, commits)),
        ThreadPoolExecutor(CALLERS) as pool,
    ):
        first = pool.submit(media.ingest, sources[0], targets[0])
        while not commits:  # the first write is under way before the others call
            time.sleep(0.01)
        rest = list(pool.map(media.ingest, sources[1:], targets[1:]))
        results: list[IngestResult] = [first.result(), *rest]
    assert len(commits) == 2  # the first alone, then the seven that queued behind it
    for result, target in zip(results, targets, strict=True):
        assert result.created
        assert result.attachment is not None
        assert result.attachment.entity_id == target.entity_id
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaIngestion)) == CALLERS
        assert session.scalar(select(func.count()).select_from(MediaResourceAttachment)) == CALLERS


def test_a_failed_group_lets_each_caller_record_alone(db: Database) -> None:
    """A group whose transaction fails is retried item by item: one caller's failure is
    its own, the others are recorded."""
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    sources = [upload(store, image_bytes("png", seed=400 + i)) for i in range(CALLERS)]
    commits: list[int] = []
    held = _hold_first_commit(media, commits)
    lock = threading.Lock()

    def action() -> None:
        held()
        with lock:
            if len(commits) == 2:  # the group of seven
                raise failpoints.InjectedFailure("ingest.before_commit")

    with (
        failpoints.armed("ingest.before_commit", action),
        ThreadPoolExecutor(CALLERS) as pool,
    ):
        first = pool.submit(media.ingest, sources[0], product())
        while not commits:
            time.sleep(0.01)
        rest = list(pool.map(lambda s: media.ingest(s, product()), sources[1:]))
        first.result()
    assert all(result.created for result in rest)
    assert len(commits) == 2 + CALLERS - 1  # the failed group, then each of its seven alone


def test_a_caller_alone_is_recorded_at_once(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    commits: list[int] = []
    with failpoints.armed("ingest.before_commit", lambda: commits.append(1)):
        for i in range(3):
            assert media.ingest(upload(store, image_bytes("png", seed=500 + i)), product()).created
    assert len(commits) == 3
    assert _queued(media) == 0
