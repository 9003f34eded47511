"""Polymorphic attachments: which resource fills which slot of which entity.

A slot is ``(entity_type, entity_id, slot, position)``; one resource per slot (a unique
index), one resource in many slots. A resource with no attachment left is *detached* from
then on, and deleted once detached for longer than the grace period, unless protected.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.core.errors import ConflictError, MediaNotFoundError
from sartiq_storage.services.media import statements as sql
from sartiq_storage.services.media.deletions import DeletionQueue, enqueue
from sartiq_storage.services.media.model import (
    AttachTo,
    IngestResult,
    MediaSettings,
    Slot,
    slot_of,
)


def slot_lock_key(target: AttachTo) -> int:
    """A slot's advisory lock key: 32 bits of its hash (two slots sharing one only queue)."""
    digest = hashlib.blake2b(repr(slot_of(target)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _slot_params(target: AttachTo) -> dict[str, Any]:
    entity_type, entity_id, slot, position = slot_of(target)
    return {"b_type": entity_type, "b_entity": entity_id, "b_slot": slot, "b_position": position}


def mark_attached(session: Session, resource: MediaResource) -> None:
    """Clear ``detached_at`` in the database and on the object, without a flush."""
    if resource.detached_at is None:
        return
    session.connection().execute(sql.CLEAR_DETACHED, {"b_id": resource.id})
    if sa_inspect(resource).persistent:
        set_committed_value(resource, "detached_at", None)
    else:
        resource.detached_at = None


def taken_slots(session: Session, targets: list[AttachTo]) -> set[Slot]:
    """Which of these slots already hold an attachment: one query for all of them."""
    types = sorted({t.entity_type for t in targets})
    entities = list({t.entity_id for t in targets})
    taken: set[Slot] = set()
    for chunk in sql.in_lists(entities):  # bound parameters are limited
        rows = session.connection().execute(
            sql.SLOTS_OF_ENTITIES, {"b_types": types, "b_entities": list(chunk)}
        )
        taken.update((r.entity_type, r.entity_id, r.slot, r.position) for r in rows)
    return taken


class Attachments:
    """Attach, replace and detach; the deletion of what nothing uses any more."""

    def __init__(self, db: Database, settings: MediaSettings, deletions: DeletionQueue) -> None:
        self.db = db
        self.settings = settings
        self.deletions = deletions

    def lock_slots(self, session: Session, targets: Sequence[AttachTo | None]) -> None:
        """PostgreSQL: queue behind the other writers to these slots until this commits.

        Otherwise concurrent writers to one slot each read it, replace what they saw and
        insert, and all but one meet the unique index: they retry, and with enough writers
        some give up (40 writers: 23 × 409). Holding the slot's lock, a writer sees the
        previous one's committed attachment and replaces it: the last to commit wins. Taken
        first in the transaction, in key order (no deadlock between batches). SQLite already
        has a single writer.
        """
        if not self.db.is_postgres:
            return
        locked: set[int] = session.info.setdefault("slot_locks", set())
        keys = {slot_lock_key(t) for t in targets if t is not None} - locked
        if keys:
            session.connection().execute(
                sql.LOCK_SLOTS, {"space": sql.SLOT_LOCK_SPACE, "keys": sorted(keys)}
            )
            locked.update(keys)

    def attach(
        self, session: Session, resource: MediaResource, target: AttachTo
    ) -> MediaResourceAttachment:
        """Put ``resource`` in the slot; a different resource already there is replaced.

        Core statements on the session's connection, as on the rest of the ingest path: the
        returned attachment is not tracked by the session (nothing is left to flush).
        """
        self.lock_slots(session, [target])  # taken already on the ingest paths
        conn = session.connection()
        current = conn.execute(sql.SLOT_HOLDER, _slot_params(target)).first()
        if current is not None and current.media_resource_id == resource.id:
            existing = session.get(MediaResourceAttachment, current.id)
            if existing is not None:
                mark_attached(session, resource)
                return existing
            current = None  # detached by a concurrent call since the look: the slot is free
        if current is not None:
            # A plain DELETE: a concurrent replacement may have removed the row already.
            conn.execute(sql.DELETE_ATTACHMENT, {"b_id": current.id})
            self.mark_if_detached(session, current.media_resource_id)
        attachment = self.new_attachment(resource.id, target)
        conn.execute(sql.INSERT_ATTACHMENT, sql.columns(attachment))
        mark_attached(session, resource)
        return attachment

    def new_attachment(self, resource_id: uuid.UUID, target: AttachTo) -> MediaResourceAttachment:
        return MediaResourceAttachment(
            id=uuid.uuid4(),
            media_resource_id=resource_id,
            entity_type=target.entity_type,
            entity_id=target.entity_id,
            slot=target.slot,
            position=target.position,
            created_at=self.settings.clock(),
        )

    def mark_if_detached(self, session: Session, resource_id: uuid.UUID) -> None:
        remaining = session.scalar(
            select(func.count()).where(MediaResourceAttachment.media_resource_id == resource_id)
        )
        if not remaining:
            resource = session.get(MediaResource, resource_id)
            if resource is not None:
                resource.detached_at = self.settings.clock()

    def attach_existing(self, resource_id: uuid.UUID, target: AttachTo) -> IngestResult:
        """Reuse a resource by id: put it in the slot (a ``MediaInput`` without a URL)."""

        def work(session: Session) -> IngestResult:
            self.lock_slots(session, [target])
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                raise MediaNotFoundError(f"media resource {resource_id} not found")
            attachment = self.attach(session, resource, target)
            return IngestResult(resource, attachment, created=False)

        return run_transaction(self.db, work)

    def detach(self, attachment_id: uuid.UUID) -> None:
        """Remove one attachment; the resource stays (it may be shared)."""

        def work(session: Session) -> None:
            attachment = session.get(MediaResourceAttachment, attachment_id)
            if attachment is None:
                raise MediaNotFoundError(f"attachment {attachment_id} not found")
            resource_id = attachment.media_resource_id
            gone = session.execute(
                delete(MediaResourceAttachment)
                .where(MediaResourceAttachment.id == attachment_id)
                .execution_options(synchronize_session=False)
            )
            if getattr(gone, "rowcount", 1) == 0:  # detached by a concurrent call meanwhile
                raise MediaNotFoundError(f"attachment {attachment_id} not found")
            session.expunge(attachment)
            self.mark_if_detached(session, resource_id)

        run_transaction(self.db, work)

    def detach_entity(self, entity_type: str, entity_id: uuid.UUID) -> int:
        """Remove every attachment of an entity (when the entity is deleted)."""

        def work(session: Session) -> int:
            rows = list(
                session.scalars(
                    select(MediaResourceAttachment).where(
                        MediaResourceAttachment.entity_type == entity_type,
                        MediaResourceAttachment.entity_id == entity_id,
                    )
                )
            )
            for row in rows:
                session.delete(row)
            session.flush()
            for resource_id in {row.media_resource_id for row in rows}:
                self.mark_if_detached(session, resource_id)
            return len(rows)

        return run_transaction(self.db, work)

    def delete_if_orphaned(
        self, resource_id: uuid.UUID, *, grace: timedelta, now: datetime | None = None
    ) -> bool:
        """Delete a resource that nothing uses: not protected, detached for longer than ``grace``.

        One conditional statement decides, so an attachment that arrives meanwhile wins: the
        row is then not deleted (and the foreign key refuses it anyway).
        """
        cutoff = (now or self.settings.clock()) - grace
        outbox_rows: list[Any] = []

        def work(session: Session) -> bool:
            outbox_rows.clear()
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                return False
            attached = select(MediaResourceAttachment.id).where(
                MediaResourceAttachment.media_resource_id == resource_id
            )
            result = session.execute(
                delete(MediaResource)
                .where(
                    MediaResource.id == resource_id,
                    MediaResource.protected.is_(False),
                    MediaResource.detached_at.is_not(None),
                    MediaResource.detached_at <= cutoff,
                    ~attached.exists(),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return False
            outbox_rows.extend(enqueue(session, [resource.storage_key], "orphan"))
            return True

        try:
            deleted = run_transaction(self.db, work, attempts=3)
        except ConflictError:
            return False
        if self.settings.drain_after_commit:
            self.deletions.after_commit(outbox_rows)
        return deleted
