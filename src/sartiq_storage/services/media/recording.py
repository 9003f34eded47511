"""Recording: the one write transaction that turns prepared ingests into rows.

For each prepared ingest it inserts (or, on a hit, reuses) the resource, the ingestion
record, the attachment and the claim of the presigned upload, and queues the stale source in
the outbox; after the commit the sources are deleted in one batch call. A batch whose slots
are distinct is written with one multi-row INSERT per table; a race shows as an
IntegrityError, and the retry records item by item, looking first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, ResourceType
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.services import failpoints
from sartiq_storage.services.media import statements as sql
from sartiq_storage.services.media.attachments import Attachments, taken_slots
from sartiq_storage.services.media.deletions import (
    LEASE,
    DeletionQueue,
    enqueue,
    unreferenceable,
)
from sartiq_storage.services.media.model import IngestResult, MediaSettings, slot_of
from sartiq_storage.services.media.promotion import Prepared
from sartiq_storage.services.media.verification import Verified


class Unconfirmed(Exception):
    """A resource with the same MD5 appeared meanwhile: its bytes need a look first."""


def new_resource(resource_id: uuid.UUID, key: str, v: Verified, now: datetime) -> MediaResource:
    """The row for a verified upload stored under ``key``, detached until attached."""
    return MediaResource(
        id=resource_id,
        resource_type=ResourceType(v.kind.resource_type),
        storage_key=key,
        content_hash=v.md5,
        sha256=v.sha256,
        extension=v.kind.extension,
        content_type=v.kind.content_type,
        file_size=v.size,
        width=v.metadata.width,
        height=v.metadata.height,
        dominant_color=v.metadata.dominant_color,
        color_profile=v.metadata.color_profile if v.kind.resource_type == "IMAGE" else None,
        duration=v.metadata.duration if v.kind.resource_type == "VIDEO" else None,
        codec=v.metadata.codec if v.kind.resource_type == "VIDEO" else None,
        frame_rate=v.metadata.frame_rate if v.kind.resource_type == "VIDEO" else None,
        protected=False,
        created_at=now,
        updated_at=now,
        detached_at=now,  # attaching clears it; unattached resources age from creation
    )


def distinct_slots(batch: Sequence[Prepared]) -> bool:
    slots = [slot_of(p.target) for p in batch if p.target is not None]
    return len(slots) == len(set(slots))


def winner(session: Session, prepared: Prepared) -> tuple[MediaResource | None, bool]:
    """Inside the write: the resource this ingest must reuse, and whether it is the
    one this very source became before (a retry). Raises :class:`Unconfirmed` when a
    resource with the same MD5 cannot be told apart without reading bytes, or took the
    collision rank this ingest was going to use.
    """
    verified = prepared.verified
    conn = session.connection()
    resource_id = conn.execute(sql.INGESTED_AS, {"b_key": verified.key}).scalar()
    if resource_id is not None:
        return session.get(MediaResource, resource_id), True
    rows = conn.execute(sql.KNOWN_BY_HASHES, {"b_md5s": [verified.md5]}).all()
    for row in rows:
        if row.sha256 is None or verified.sha256 is None:
            raise Unconfirmed()
        if row.sha256 == verified.sha256:
            return session.get(MediaResource, row.id), False
    if any(row.collision_rank == prepared.collision_rank for row in rows):
        raise Unconfirmed()
    return None, False


class Recorder:
    """Writes prepared ingests in one transaction, then deletes their sources."""

    def __init__(
        self,
        db: Database,
        settings: MediaSettings,
        deletions: DeletionQueue,
        attachments: Attachments,
    ) -> None:
        self.db = db
        self.settings = settings
        self.deletions = deletions
        self.attachments = attachments

    def record(self, batch: list[Prepared]) -> list[IngestResult | None]:
        """The one write transaction for prepared ingests (None: a hit vanished meanwhile),
        then one post-commit deletion of their sources.
        """
        outbox_rows: list[tuple[Any, str]] = []
        stale: list[str] = []
        lease = self.settings.clock() + LEASE if self.settings.drain_after_commit else None
        attempts = 0

        def work(session: Session) -> list[IngestResult | None]:
            nonlocal attempts
            attempts += 1
            outbox_rows.clear()
            stale.clear()
            self.attachments.lock_slots(session, [p.target for p in batch])
            # First, so that the winner checks below can tell these resources apart.
            fills = [{"b_id": rid, "b_sha": sha} for p in batch for rid, sha in p.sha256_fills]
            if fills:
                session.connection().execute(sql.FILL_SHA256, fills)
            results: list[IngestResult | None] = []
            if attempts == 1 and len(batch) > 1 and distinct_slots(batch):
                results = self.record_many(session, batch, stale)
            else:
                for prepared in batch:
                    result, keys = self.record_one(session, prepared, recheck=attempts > 1)
                    results.append(result)
                    stale.extend(keys)
            if stale:
                outbox_rows.extend(enqueue(session, stale, "ingested", not_before=lease))
            failpoints.hit("ingest.before_commit")
            return results

        results = run_transaction(self.db, work)
        failpoints.hit("ingest.committed")
        if self.settings.drain_after_commit:
            self.deletions.after_commit(outbox_rows, unreferenceable(stale))
        return results

    def record_one(
        self, session: Session, prepared: Prepared, *, recheck: bool
    ) -> tuple[IngestResult | None, list[str]]:
        """Record one ingest in the batch's transaction; also name the keys it makes stale."""
        verified, target, canonical = prepared.verified, prepared.target, prepared.canonical
        key = verified.key
        # A concurrent ingest of the same bytes or source may have won since the read.
        # After a miss, the unique constraints tell (an IntegrityError, then a retry that
        # looks); after a hit, look now.
        found: MediaResource | None = None
        same_source = False
        if canonical is None or recheck:
            found, same_source = winner(session, prepared)
        if found is not None:
            if not same_source:
                session.connection().execute(
                    sql.INSERT_INGESTION,
                    {
                        "source_key": key,
                        "media_resource_id": found.id,
                        "created_at": self.settings.clock(),
                    },
                )
            attachment = self.attachments.attach(session, found, target) if target else None
            self.claim_intent(session, key, found.id)
            stale = [key] if canonical is None else [key, canonical]
            return IngestResult(found, attachment, created=False), stale
        if canonical is None:
            return None, []
        resource = self._fresh(prepared)
        conn = session.connection()
        conn.execute(sql.INSERT_RESOURCE, sql.columns(resource))
        conn.execute(
            sql.INSERT_INGESTION,
            {
                "source_key": key,
                "media_resource_id": resource.id,
                "created_at": resource.created_at,
            },
        )
        attachment = self.attachments.attach(session, resource, target) if target else None
        self.claim_intent(session, key, resource.id)
        return IngestResult(resource, attachment, created=True), [key]

    def record_many(
        self, session: Session, batch: list[Prepared], stale: list[str]
    ) -> list[IngestResult | None]:
        """:meth:`record_one` for a whole batch, each statement run once for all of it.

        The batch's slots are distinct, so the order among its items does not matter. New
        resources go in with one multi-row INSERT per table: a race with another ingest
        shows as an IntegrityError, and the retry then records item by item, looking first.
        """
        results: list[IngestResult | None] = [None] * len(batch)
        fresh: list[tuple[int, Prepared, MediaResource]] = []
        for i, prepared in enumerate(batch):
            if prepared.canonical is None:  # a hit: the winner is looked up in this write
                results[i], keys = self.record_one(session, prepared, recheck=False)
                stale.extend(keys)
                continue
            fresh.append((i, prepared, self._fresh(prepared)))
        if not fresh:
            return results
        conn = session.connection()
        conn.execute(sql.INSERT_RESOURCE, [sql.columns(resource) for _, _, resource in fresh])
        conn.execute(
            sql.INSERT_INGESTION,
            [
                {
                    "source_key": prepared.verified.key,
                    "media_resource_id": resource.id,
                    "created_at": resource.created_at,
                }
                for _, prepared, resource in fresh
            ],
        )
        targets = [p.target for _, p, _ in fresh if p.target is not None]
        taken = taken_slots(session, targets)
        new_attachments: list[MediaResourceAttachment] = []
        for i, prepared, resource in fresh:
            target = prepared.target
            attachment: MediaResourceAttachment | None = None
            if target is not None and slot_of(target) in taken:
                attachment = self.attachments.attach(session, resource, target)  # a replacement
            elif target is not None:
                attachment = self.attachments.new_attachment(resource.id, target)
                new_attachments.append(attachment)
            results[i] = IngestResult(resource, attachment, created=True)
            stale.append(prepared.verified.key)
        if new_attachments:
            conn.execute(sql.INSERT_ATTACHMENT, [sql.columns(a) for a in new_attachments])
        claims = [
            {
                "b_key": prepared.verified.key,
                "b_now": self.settings.clock(),
                "b_resource": resource.id,
            }
            for _, prepared, resource in fresh
            if prepared.verified.key.startswith("temp/")
        ]
        if claims:
            conn.execute(sql.CLAIM_INTENT, claims)
        return results

    def claim_intent(self, session: Session, key: str, resource_id: uuid.UUID) -> None:
        """Mark the presigned upload behind ``key`` as claimed (no-op for other sources)."""
        if not key.startswith("temp/"):
            return
        session.connection().execute(
            sql.CLAIM_INTENT,
            {"b_key": key, "b_now": self.settings.clock(), "b_resource": resource_id},
        )

    def _fresh(self, prepared: Prepared) -> MediaResource:
        """The new resource of a promoted ingest (attached in this same transaction when it
        has a target)."""
        assert prepared.canonical is not None
        resource = new_resource(
            prepared.resource_id, prepared.canonical, prepared.verified, self.settings.clock()
        )
        resource.collision_rank = prepared.collision_rank
        if prepared.target is not None:
            resource.detached_at = None  # attached in this same transaction
        return resource
