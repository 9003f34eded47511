"""MediaResourceService: ingest uploads and compute results, attach, detach, enrich.

A thin facade over the steps, each a module named for its capability (Shrine-style):

* :mod:`.verification` — what an upload really is, from its bytes (no database);
* :mod:`.promotion` — dedup by MD5 + SHA-256, or the create-only copy to ``media/``;
* :mod:`.recording` — the one write transaction, then the post-commit deletions;
* :mod:`.ingestion` — the pipeline running those steps for one upload or a batch;
* :mod:`.attachments` — slots of entities, detach, and the deletion of orphans;
* :mod:`.metadata` — filling metadata, protection.

The ingest protocol and its failpoints are described in :mod:`.ingestion` and
``docs/media.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, utcnow
from sartiq_storage.adapters.media_probe import MAX_PIXELS
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import InvalidMediaInputError, MediaNotFoundError
from sartiq_storage.core.keys import MediaKey, parse_key
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media import metadata
from sartiq_storage.services.media.attachments import Attachments
from sartiq_storage.services.media.deletions import DeletionQueue
from sartiq_storage.services.media.ingestion import Ingestion
from sartiq_storage.services.media.metadata import METADATA_FIELDS
from sartiq_storage.services.media.model import (
    IMMUTABLE,
    INGESTIBLE_PREFIXES,
    MAX_VIDEO_BYTES,
    AttachTo,
    IngestResult,
    MediaInput,
    MediaSettings,
)
from sartiq_storage.services.media.recording import Recorder
from sartiq_storage.services.media.verification import HEADER_BYTES

__all__ = [
    "HEADER_BYTES",
    "IMMUTABLE",
    "INGESTIBLE_PREFIXES",
    "METADATA_FIELDS",
    "AttachTo",
    "IngestResult",
    "MediaInput",
    "MediaResourceService",
    "MediaSettings",
]

_V = TypeVar("_V")


class _Setting(Generic[_V]):
    """A service attribute kept in its :class:`MediaSettings`, which every step shares."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, service: None, owner: type) -> _Setting[_V]: ...
    @overload
    def __get__(self, service: MediaResourceService, owner: type) -> _V: ...
    def __get__(self, service: MediaResourceService | None, owner: type) -> _V | _Setting[_V]:
        if service is None:
            return self
        value: _V = getattr(service.settings, self.name)
        return value

    def __set__(self, service: MediaResourceService, value: _V) -> None:
        setattr(service.settings, self.name, value)


class MediaResourceService:
    """The library API the Backend calls; the HTTP routes are a thin layer over it."""

    max_file_size: _Setting[int] = _Setting()
    max_video_size: _Setting[int] = _Setting()
    max_pixels: _Setting[int] = _Setting()
    clock: _Setting[Callable[[], datetime]] = _Setting()
    drain_after_commit: _Setting[bool] = _Setting()
    inline_enrichment: _Setting[bool] = _Setting()

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        max_file_size: int = MAX_UPLOAD_BYTES,
        max_video_size: int = MAX_VIDEO_BYTES,
        max_pixels: int = MAX_PIXELS,
        clock: Callable[[], datetime] = utcnow,
        drain_after_commit: bool = True,
        inline_enrichment: bool = True,
    ) -> None:
        self.db = db
        self.store = store
        self.urls = urls
        self.settings = MediaSettings(
            max_file_size=max_file_size,
            max_video_size=max_video_size,
            max_pixels=max_pixels,
            clock=clock,
            drain_after_commit=drain_after_commit,
            inline_enrichment=inline_enrichment,
        )
        self.deletions = DeletionQueue(db, store)
        self.attachments = Attachments(db, self.settings, self.deletions)
        self.recorder = Recorder(db, self.settings, self.deletions, self.attachments)
        self.ingestion = Ingestion(db, store, urls, self.settings, self.attachments, self.recorder)

    def close(self) -> None:
        """Remove the outbox rows of deletions already done (they are batched)."""
        self.deletions.flush_acks()

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource_id: uuid.UUID) -> MediaResource:
        with self.db.session() as session:
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                raise MediaNotFoundError(f"media resource {resource_id} not found")
            return resource

    def attachments_of(self, resource_id: uuid.UUID) -> list[MediaResourceAttachment]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(MediaResourceAttachment)
                    .where(MediaResourceAttachment.media_resource_id == resource_id)
                    .order_by(MediaResourceAttachment.created_at)
                )
            )

    def list_resources(
        self,
        *,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[MediaResource], int]:
        """Resources, newest first, optionally those attached to one entity."""
        with self.db.session() as session:
            query = select(MediaResource)
            if entity_type is not None or entity_id is not None:
                attached = select(MediaResourceAttachment.media_resource_id)
                if entity_type is not None:
                    attached = attached.where(MediaResourceAttachment.entity_type == entity_type)
                if entity_id is not None:
                    attached = attached.where(MediaResourceAttachment.entity_id == entity_id)
                query = query.where(MediaResource.id.in_(attached))
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = session.scalars(
                query.order_by(MediaResource.created_at.desc(), MediaResource.id)
                .limit(limit)
                .offset(offset)
            )
            return list(page), total

    # -- ingestion ---------------------------------------------------------------------------

    def ingest(self, media: MediaInput, target: AttachTo) -> IngestResult:
        """Ingest one MediaInput for one slot of one entity."""
        return self.ingestion.ingest(media, target)

    def ingest_all(
        self, items: Sequence[tuple[MediaInput, AttachTo]], *, concurrency: int = 1
    ) -> list[IngestResult]:
        """Ingest several inputs; results come back in the order of ``items``.

        A batch is pipelined: every upload is verified and promoted first (on ``concurrency``
        threads, overlapping their store round trips), then one transaction records them
        all and one batch call deletes their sources. If an input fails, the others are
        still recorded and the first error is raised; every ingest is idempotent, so the
        batch can simply be retried.
        """
        return self.ingestion.ingest_all(items, concurrency=concurrency)

    def ingest_each(
        self, items: Sequence[tuple[MediaInput, AttachTo]], *, concurrency: int = 1
    ) -> list[IngestResult | Exception]:
        """``ingest_all``'s pipeline answering item by item: each item's result, or the error
        that refused it, in item order (nothing raised for a refused item)."""
        return self.ingestion.ingest_each(items, concurrency=concurrency)

    def ingest_from_storage_key(
        self, storage_key: str, *, relocate: bool = True, target: AttachTo | None = None
    ) -> IngestResult:
        """Take an object already in the bucket (a compute result…) into the media system.

        ``relocate=True`` copies it to its canonical key and queues the source for deletion;
        ``relocate=False`` registers a key that is already canonical, without moving it.
        """
        parsed = parse_key(storage_key)
        if relocate:
            if not parsed.key.startswith(INGESTIBLE_PREFIXES):
                raise InvalidMediaInputError(
                    f"only keys under {', '.join(INGESTIBLE_PREFIXES)} can be relocated"
                )
            return self.ingestion.ingest_key(parsed.key, target, hints=None)
        if not isinstance(parsed, MediaKey):
            raise InvalidMediaInputError(
                "relocate=false registers only canonical keys (media/{uuid}/file.{ext})"
            )
        return self.ingestion.register_canonical(parsed, target)

    # -- attachments -------------------------------------------------------------------------

    def detach(self, attachment_id: uuid.UUID) -> None:
        """Remove one attachment; the resource stays (it may be shared)."""
        self.attachments.detach(attachment_id)

    def detach_entity(self, entity_type: str, entity_id: uuid.UUID) -> int:
        """Remove every attachment of an entity (when the entity is deleted)."""
        return self.attachments.detach_entity(entity_type, entity_id)

    def delete_if_orphaned(
        self, resource_id: uuid.UUID, *, grace: timedelta, now: datetime | None = None
    ) -> bool:
        """Delete a resource nothing uses: not protected, detached for longer than ``grace``."""
        return self.attachments.delete_if_orphaned(resource_id, grace=grace, now=now)

    # -- metadata ----------------------------------------------------------------------------

    def patch_metadata(self, resource_id: uuid.UUID, values: dict[str, Any]) -> MediaResource:
        """Fill only the fields that are still null; set ones are kept, silently."""
        return metadata.patch_metadata(self.db, resource_id, values)

    def set_protected(self, resource_id: uuid.UUID, protected: bool) -> MediaResource:
        return metadata.set_protected(self.db, resource_id, protected)
