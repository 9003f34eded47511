"""Hypothesis drives the media service through interleavings no example test would pick.

Each step runs several operations at once on a thread pool (ingests with dedup hits,
detaches, conditional deletes, orphan scans with the clock past the grace period, outbox
drains), on PostgreSQL where reachable (CI) and SQLite otherwise. After every step: no row
points at a missing object, no protected or attached resource was deleted, and every
acknowledged ingest is still there, attached where it was put.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import (
    Base,
    MediaResource,
    MediaResourceAttachment,
    utcnow,
)
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.errors import ConflictError, MediaNotFoundError
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import AttachTo, MediaInput, MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.testing.media import image_bytes

CDN = "https://cdn.stateful"
CONTENTS = [image_bytes("png", 8 + i, 8, (40 * i, 10, 200 - 30 * i)) for i in range(4)]
ENTITIES = [uuid.UUID(int=i + 1) for i in range(3)]
GRACE = timedelta(hours=1)


class MediaMachine(RuleBasedStateMachine):
    db: Database

    def __init__(self) -> None:
        super().__init__()
        with self.db.session() as session:  # each example starts from an empty database
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())
        self.store = MemoryStore()
        self.media = MediaResourceService(self.db, self.store, UrlResolver(CDN))
        self.scanner = OrphanScanner(self.db, self.store, self.media)
        self.protected: set[uuid.UUID] = set()
        self.acked: dict[uuid.UUID, uuid.UUID] = {}  # attachment id → resource id

    def _upload(self, content: int) -> MediaInput:
        key = f"temp/{uuid.uuid4().hex}_1706000000_p.png"
        self.store.put(key, CONTENTS[content], content_type="image/png")
        return MediaInput(url=f"{CDN}/{key}")

    def _attachments(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        with self.db.session() as session:
            return list(
                session.execute(
                    select(MediaResourceAttachment.id, MediaResourceAttachment.media_resource_id)
                )
            )

    def _resources(self) -> list[uuid.UUID]:
        with self.db.session() as session:
            return list(session.scalars(select(MediaResource.id)))

    def _ingest(self, content: int, entity: int, slot: str, position: int | None) -> None:
        target = AttachTo("PRODUCT", ENTITIES[entity], slot, position)
        try:
            result = self.media.ingest(self._upload(content), target)
        except ConflictError:
            return  # lost a race it could not settle: refused, nothing half done
        assert result.attachment is not None
        self.acked[result.attachment.id] = result.resource.id

    @rule(
        data=st.lists(
            st.tuples(
                st.sampled_from(["ingest", "ingest", "detach", "delete", "scan", "drain"]),
                st.integers(0, len(CONTENTS) - 1),
                st.integers(0, len(ENTITIES) - 1),
                st.sampled_from(["cover", "gallery"]),
                st.integers(0, 2),
            ),
            min_size=2,
            max_size=6,
        )
    )
    def at_once(self, data: list[tuple[str, int, int, str, int]]) -> None:
        attachments = self._attachments()
        resources = self._resources()
        later = utcnow() + GRACE * 2
        jobs: list[Callable[[], Any]] = []
        for op, content, entity, slot, n in data:
            if op == "ingest":
                position = None if slot == "cover" else n
                jobs.append(
                    lambda c=content, e=entity, s=slot, p=position: self._ingest(c, e, s, p)
                )
            elif op == "detach" and attachments:
                attachment = attachments[n % len(attachments)][0]
                jobs.append(lambda a=attachment: self._detach(a))
            elif op == "delete" and resources:
                resource = resources[n % len(resources)]
                jobs.append(
                    lambda r=resource: self.media.delete_if_orphaned(r, grace=GRACE, now=later)
                )
            elif op == "scan":
                jobs.append(lambda: self.scanner.scan(grace=GRACE, apply=True, now=later))
            elif op == "drain":
                jobs.append(lambda: self.media.deletions.run_once(now=later))
        with ThreadPoolExecutor(len(jobs) or 1) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def _detach(self, attachment: uuid.UUID) -> None:
        with contextlib.suppress(MediaNotFoundError):  # gone by another job of the step
            self.media.detach(attachment)
        self.acked.pop(attachment, None)

    @rule(n=st.integers(0, 10))
    def protect(self, n: int) -> None:
        resources = self._resources()
        if resources:
            resource = resources[n % len(resources)]
            self.media.set_protected(resource, True)
            self.protected.add(resource)

    @invariant()
    def nothing_lost(self) -> None:
        with self.db.session() as session:
            rows = {
                rid: key
                for rid, key in session.execute(select(MediaResource.id, MediaResource.storage_key))
            }
            attached = {
                aid: rid
                for aid, rid in session.execute(
                    select(MediaResourceAttachment.id, MediaResourceAttachment.media_resource_id)
                )
            }
        for key in rows.values():
            assert self.store.exists(key), f"a row points at the missing object {key}"
        assert self.protected <= set(rows), "a protected resource was deleted"
        for resource in attached.values():
            assert resource in rows
        for attachment, resource in self.acked.items():
            # An acknowledged attachment stays unless replaced in its slot or detached.
            if attachment in attached:
                assert attached[attachment] == resource


EXAMPLES = int(os.environ.get("SARTIQ_HARDENING_EXAMPLES", "12"))
"""12 on every CI run; long: ``SARTIQ_HARDENING_EXAMPLES=500 ./run test tests/hardening``."""


def test_interleavings(db: Database) -> None:
    MediaMachine.db = db
    examples = EXAMPLES
    run_state_machine_as_test(
        MediaMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_a_scan_during_100_uploads_deletes_none_of_them(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    scanner = OrphanScanner(db, store, media)
    uploads = []
    for i in range(100):
        key = f"temp/{uuid.uuid4().hex}_1706000000_p{i}.png"
        store.put(
            key, image_bytes("png", 8, 8 + i % 40, (i, 2 * i % 255, 9)), content_type="image/png"
        )
        uploads.append((MediaInput(url=f"{CDN}/{key}"), AttachTo("PRODUCT", uuid.uuid4(), "c")))
    with ThreadPoolExecutor(6) as pool:
        scans = [pool.submit(scanner.scan, grace=GRACE, apply=True) for _ in range(3)]
        ingests = [pool.submit(media.ingest, *item) for item in uploads]
        results = [f.result() for f in ingests]
        reports = [f.result() for f in scans]
    media.deletions.run_once(now=utcnow() + timedelta(minutes=10))
    assert all(r.orphan_objects == 0 for r in reports)
    for result in results:
        assert store.exists(result.resource.storage_key)
    assert list(store.list("temp/")) == []
