"""MediaResourceService: ingest uploads and compute results, attach, detach, enrich.

The ingest protocol (``docs/media.md``), with a named failpoint between every two steps:

1. resolve the URL to a key under an allowed prefix; a source already ingested returns the
   resource it became (idempotent retries, even after the upload is gone);
2. HEAD it: missing → 410, over the size limit → 413;
3. verify before promote: read the bytes, sniff the real type (never the client's claim),
   hash (MD5 for ``content_hash``, SHA-256 to confirm a dedup hit), read metadata;
4. dedup hit: attach the existing resource and queue the source for deletion;
5. miss: create-only server-side copy to ``media/{id}/file.{ext}`` with the right
   Content-Type and immutable Cache-Control, HEAD it to confirm, then one transaction inserts
   the resource, the ingestion record, the attachment and the outbox row for the source;
6. after the commit, the outbox deletes the source (failures become dead letters).

A crash after the copy and before the commit leaves only an unreferenced ``media/`` object,
which the orphan scanner removes after its grace period; no row ever points at a missing
object, because rows are written only after the copy is confirmed.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import (
    MediaIngestion,
    MediaResource,
    MediaResourceAttachment,
    ResourceType,
    UploadIntent,
    utcnow,
)
from sartiq_storage.adapters.media_probe import (
    MAX_PIXELS,
    DecompressionBombError,
    MediaMetadata,
    MediaProbeError,
    probe,
    probe_image_header,
)
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import (
    ConflictError,
    InvalidMediaInputError,
    MediaNotFoundError,
    ObjectNotFoundError,
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.keys import MediaKey, parse_key
from sartiq_storage.core.sniff import SNIFF_BYTES, Sniffed, sniff
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.deletions import DeletionQueue, enqueue
from sartiq_storage.services.media.hashing import stream_digests

IMMUTABLE = "public, max-age=31536000, immutable"
logger = logging.getLogger(__name__)
INGESTIBLE_PREFIXES = ("temp/", "compute/")
HEADER_BYTES = 256 * 1024
"""How much of an image is read to sniff it and parse its header when not reading it all."""
_T = TypeVar("_T")
_ENTITY_TYPE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
METADATA_FIELDS = (
    "color_profile",
    "duration",
    "dominant_color",
    "width",
    "height",
    "alt_text",
    "caption",
)


@dataclass(frozen=True, slots=True)
class MediaInput:
    """Exactly one of ``url`` (a fresh upload) or ``media_resource_id`` (reuse)."""

    url: str | None = None
    media_resource_id: uuid.UUID | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.media_resource_id is None):
            raise InvalidMediaInputError("give exactly one of url or media_resource_id")


@dataclass(frozen=True, slots=True)
class AttachTo:
    """Where an ingested resource is attached: a single slot when ``position`` is None."""

    entity_type: str
    entity_id: uuid.UUID
    slot: str
    position: int | None = None

    def __post_init__(self) -> None:
        if not self.entity_type or not set(self.entity_type) <= _ENTITY_TYPE_CHARS:
            raise InvalidMediaInputError(
                f"entity_type {self.entity_type!r} must be upper-case letters, digits and '_'"
            )
        if len(self.entity_type) > 64 or not self.slot or len(self.slot) > 64:
            raise InvalidMediaInputError("entity_type and slot must be 1 to 64 characters")
        if self.position is not None and self.position < 0:
            raise InvalidMediaInputError("position must be 0 or more (null for single slots)")


@dataclass(frozen=True, slots=True)
class IngestResult:
    resource: MediaResource
    attachment: MediaResourceAttachment | None
    created: bool
    """True when this call created the resource (a dedup miss)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    key: str
    size: int
    md5: str
    sha256: str | None
    """None when not computed at ingest (deferred enrichment)."""
    kind: Sniffed
    metadata: MediaMetadata


class MediaResourceService:
    """The library API the Backend calls; the HTTP routes are a thin layer over it."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        max_file_size: int = MAX_UPLOAD_BYTES,
        max_pixels: int = MAX_PIXELS,
        clock: Callable[[], datetime] = utcnow,
        drain_after_commit: bool = True,
        inline_enrichment: bool = True,
    ) -> None:
        self.db = db
        self.store = store
        self.urls = urls
        self.max_file_size = max_file_size
        self.max_pixels = max_pixels
        self.clock = clock
        self.deletions = DeletionQueue(db, store)
        self.drain_after_commit = drain_after_commit
        self.inline_enrichment = inline_enrichment

    # -- transactions ------------------------------------------------------------------------

    def _transaction(self, work: Callable[[Session], _T], *, attempts: int = 8) -> _T:
        """Run ``work`` in a transaction, retrying races the constraints detected."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                with self.db.session() as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                last = exc
        raise ConflictError(f"gave up after {attempts} conflicting attempts: {last}")

    def _drain(self, outbox_rows: list[tuple[Any, str]]) -> None:
        """Run this operation's deletions now; any failure is the worker's to retry.

        The change is committed, so the caller succeeded: a failing or crashing delete must
        not turn that into an error. The outbox rows stay (leased) and are retried.
        """
        if not (self.drain_after_commit and outbox_rows):
            return
        try:
            self.deletions.delete_now(outbox_rows)
        except Exception:
            logger.exception("post-commit deletion failed; the outbox will retry it")

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
        if media.media_resource_id is not None:
            return self._attach_existing(media.media_resource_id, target)
        assert media.url is not None
        key = self.urls.key_from_url(media.url, prefix="temp/")
        return self._ingest_key(key, target, hints=media)

    def ingest_all(
        self, items: Sequence[tuple[MediaInput, AttachTo]], *, concurrency: int = 1
    ) -> list[IngestResult]:
        """Ingest several inputs, in order of the results; each is idempotent, so a failed
        batch can simply be retried. ``concurrency`` > 1 overlaps their store round trips
        (the races it creates are the ones the constraints already settle).
        """
        if concurrency <= 1 or len(items) <= 1:
            return [self.ingest(media, target) for media, target in items]
        with ThreadPoolExecutor(min(concurrency, len(items))) as pool:
            return list(pool.map(lambda item: self.ingest(*item), items))

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
            return self._ingest_key(parsed.key, target, hints=None)
        if not isinstance(parsed, MediaKey):
            raise InvalidMediaInputError(
                "relocate=false registers only canonical keys (media/{uuid}/file.{ext})"
            )
        return self._register_canonical(parsed, target)

    def _attach_existing(self, resource_id: uuid.UUID, target: AttachTo) -> IngestResult:
        def work(session: Session) -> IngestResult:
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                raise MediaNotFoundError(f"media resource {resource_id} not found")
            attachment = self._attach(session, resource, target)
            return IngestResult(resource, attachment, created=False)

        return self._transaction(work)

    def _previously_ingested(self, key: str, target: AttachTo | None) -> IngestResult | None:
        def work(session: Session) -> IngestResult | None:
            record = session.get(MediaIngestion, key)
            if record is None:
                return None
            resource = session.get(MediaResource, record.media_resource_id)
            if resource is None:
                return None
            attachment = self._attach(session, resource, target) if target else None
            return IngestResult(resource, attachment, created=False)

        return self._transaction(work)

    def _verify(self, key: str, hints: MediaInput | None) -> _Verified:
        """Everything we check before anything is created (verify before promote).

        The type is sniffed from the first bytes and the header read for dimensions and the
        pixel limit. With ``inline_enrichment`` (the default) the whole object is read:
        MD5, SHA-256, dominant colour. Without it, a plain-MD5 ETag is the content hash (the
        store computed it from the stored bytes) and the enrichment is left to ``heal``.
        """
        # One GET does what HEAD + GET would: its answer carries the size and the ETag, and
        # the size is checked before any of the body is read.
        try:
            stream = self.store.get(key, end=None if self.inline_enrichment else HEADER_BYTES)
        except ObjectNotFoundError:
            raise UploadMissingError(
                f"{key} does not exist (the upload expired, never finished, or was removed)"
            ) from None
        except ValueError:  # a range on an empty object
            raise UnsupportedMediaError(f"{key} is empty") from None
        with stream:
            info = stream.info
            if info.size > self.max_file_size:
                raise UploadTooLargeError(
                    f"{key} is {info.size} bytes, over the {self.max_file_size} byte limit"
                )
            if info.size == 0:
                raise UnsupportedMediaError(f"{key} is empty")
            failpoints.hit("ingest.headed")
            data = stream.read()
        full = len(data) >= info.size
        if not full and info.md5 is None:  # no usable ETag: the hash needs every byte
            data, full = self._read(key), True
        kind = sniff(data[:SNIFF_BYTES])
        if kind is None:
            raise UnsupportedMediaError(
                f"{key} is not an accepted image or video (checked from its bytes)"
            )
        metadata: MediaMetadata | None = None
        # Deferred enrichment leaves the dominant colour to heal even when every byte is here:
        # the header gives dimensions and profile at a fraction of a decode.
        if (not full or not self.inline_enrichment) and kind.resource_type == "IMAGE":
            try:
                metadata = probe_image_header(data, max_pixels=self.max_pixels)
            except DecompressionBombError as exc:
                raise UnsupportedMediaError(f"{key}: {exc}") from None
            except MediaProbeError:
                metadata = None  # the header runs past the prefix: read it all
        if metadata is None:
            if not full:
                data, full = self._read(key), True
            try:
                metadata = probe(data, kind.resource_type, max_pixels=self.max_pixels)
            except MediaProbeError as exc:
                raise UnsupportedMediaError(f"{key}: {exc}") from None
        if full:
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            sha: str | None = hashlib.sha256(data).hexdigest()
            size = len(data)
        else:
            md5, sha, size = info.md5 or "", None, info.size
        if hints is not None and metadata.width is None:
            metadata = MediaMetadata(
                hints.width, hints.height, metadata.dominant_color, metadata.color_profile
            )
        failpoints.hit("ingest.hashed")
        return _Verified(key, size, md5, sha, kind, metadata)

    def _read(self, key: str, *, end: int | None = None) -> bytes:
        with self.store.get(key, end=end) as stream:
            return stream.read()

    def _sha256_of(self, key: str) -> str:
        return stream_digests(self.store, key, "sha256")["sha256"]

    def _ingest_key(
        self, key: str, target: AttachTo | None, *, hints: MediaInput | None
    ) -> IngestResult:
        done = self._previously_ingested(key, target)
        if done is not None:
            return done
        verified = self._verify(key, hints)
        hit = self._attach_by_hash(verified, target)
        if hit is not None:
            return hit
        resource_id = uuid.uuid4()
        canonical = MediaKey(resource_id, verified.kind.extension).key
        copied = self.store.copy(
            key,
            canonical,
            content_type=verified.kind.content_type,
            cache_control=IMMUTABLE,
            if_absent=True,
        )
        failpoints.hit("ingest.copied")
        if copied.md5 != verified.md5:
            # The copy's answer does not prove its bytes (no plain-MD5 ETag): look.
            copied = self.store.head(canonical)
        if copied.size != verified.size or copied.md5 not in (None, verified.md5):
            raise ConflictError(f"{canonical} does not hold the verified bytes")
        failpoints.hit("ingest.verified")
        outbox_rows: list[Any] = []

        def work(session: Session) -> IngestResult:
            outbox_rows.clear()
            # A concurrent ingest of the same bytes or source may have won meanwhile (the
            # unique constraints turn that race into an IntegrityError and a retry).
            winner = self._winner(session, verified)
            if winner is not None:
                if session.get(MediaIngestion, key) is None:
                    session.add(MediaIngestion(source_key=key, media_resource_id=winner.id))
                attachment = self._attach(session, winner, target) if target else None
                self._claim_intent(session, key, winner.id)
                rows = enqueue(session, [key, canonical], "deduplicated")
                outbox_rows.extend((row.id, row.storage_key) for row in rows)
                return IngestResult(winner, attachment, created=False)
            resource = self._new_resource(resource_id, canonical, verified)
            session.add(resource)
            session.flush()  # the resource row first: the ingestion record refers to it
            session.add(MediaIngestion(source_key=key, media_resource_id=resource_id))
            session.flush()
            attachment = self._attach(session, resource, target) if target else None
            self._claim_intent(session, key, resource_id)
            outbox_rows.extend(
                (row.id, row.storage_key) for row in enqueue(session, [key], "ingested")
            )
            failpoints.hit("ingest.before_commit")
            return IngestResult(resource, attachment, created=True)

        result = self._transaction(work)
        failpoints.hit("ingest.committed")
        self._drain(outbox_rows)
        return result

    def _claim_intent(self, session: Session, key: str, resource_id: uuid.UUID) -> None:
        """Mark the presigned upload behind ``key`` as claimed (no-op for other sources)."""
        session.execute(
            update(UploadIntent)
            .where(UploadIntent.storage_key == key, UploadIntent.claimed_at.is_(None))
            .values(claimed_at=self.clock(), media_resource_id=resource_id)
        )

    @staticmethod
    def _winner(session: Session, verified: _Verified) -> MediaResource | None:
        record = session.get(MediaIngestion, verified.key)
        if record is not None:
            return session.get(MediaResource, record.media_resource_id)
        return session.scalar(
            select(MediaResource).where(MediaResource.content_hash == verified.md5)
        )

    def _attach_by_hash(self, verified: _Verified, target: AttachTo | None) -> IngestResult | None:
        outbox_rows: list[Any] = []
        sha256 = verified.sha256
        if sha256 is None:
            with self.db.session() as session:
                known = session.scalar(
                    select(MediaResource.sha256).where(MediaResource.content_hash == verified.md5)
                )
            if known is not None:
                sha256 = self._sha256_of(verified.key)  # confirm the hit: hits only

        def work(session: Session) -> IngestResult | None:
            outbox_rows.clear()
            resource = session.scalar(
                select(MediaResource).where(MediaResource.content_hash == verified.md5)
            )
            if resource is None:
                return None
            if resource.sha256 is not None and sha256 != resource.sha256:
                raise ConflictError(
                    "MD5 collision: same content_hash, different bytes; refusing to deduplicate"
                )
            if session.get(MediaIngestion, verified.key) is None:
                session.add(MediaIngestion(source_key=verified.key, media_resource_id=resource.id))
            attachment = self._attach(session, resource, target) if target else None
            self._claim_intent(session, verified.key, resource.id)
            outbox_rows.extend(
                (row.id, row.storage_key)
                for row in enqueue(session, [verified.key], "deduplicated")
            )
            return IngestResult(resource, attachment, created=False)

        result = self._transaction(work)
        if result is not None:
            failpoints.hit("ingest.committed")
            self._drain(outbox_rows)
        return result

    def _register_canonical(self, key: MediaKey, target: AttachTo | None) -> IngestResult:
        existing = self._previously_ingested(key.key, target)
        if existing is not None:
            return existing
        verified = self._verify(key.key, None)
        if verified.kind.extension != key.extension.lower():
            raise UnsupportedMediaError(
                f"{key.key} holds {verified.kind.content_type}, not .{key.extension}"
            )

        def work(session: Session) -> IngestResult:
            duplicate = session.scalar(
                select(MediaResource).where(MediaResource.content_hash == verified.md5)
            )
            if duplicate is not None and duplicate.id != key.resource_id:
                raise ConflictError(
                    f"the same bytes are already media resource {duplicate.id}; reuse it"
                )
            resource = session.get(MediaResource, key.resource_id)
            created = resource is None
            if resource is None:
                resource = self._new_resource(key.resource_id, key.key, verified)
                session.add(resource)
                session.flush()
                session.add(MediaIngestion(source_key=key.key, media_resource_id=resource.id))
                session.flush()
            attachment = self._attach(session, resource, target) if target else None
            return IngestResult(resource, attachment, created=created)

        return self._transaction(work)

    def _new_resource(self, resource_id: uuid.UUID, key: str, v: _Verified) -> MediaResource:
        now = self.clock()
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
            protected=False,
            created_at=now,
            updated_at=now,
            detached_at=now,  # attaching clears it; unattached resources age from creation
        )

    # -- attachments -------------------------------------------------------------------------

    def _attach(
        self, session: Session, resource: MediaResource, target: AttachTo
    ) -> MediaResourceAttachment:
        """Put ``resource`` in the slot; a different resource already there is replaced."""
        position_match = (
            MediaResourceAttachment.position.is_(None)
            if target.position is None
            else MediaResourceAttachment.position == target.position
        )
        current = session.scalar(
            select(MediaResourceAttachment).where(
                MediaResourceAttachment.entity_type == target.entity_type,
                MediaResourceAttachment.entity_id == target.entity_id,
                MediaResourceAttachment.slot == target.slot,
                position_match,
            )
        )
        if current is not None and current.media_resource_id == resource.id:
            resource.detached_at = None
            return current
        if current is not None:
            previous = current.media_resource_id
            session.delete(current)
            session.flush()
            self._mark_if_detached(session, previous)
        attachment = MediaResourceAttachment(
            media_resource_id=resource.id,
            entity_type=target.entity_type,
            entity_id=target.entity_id,
            slot=target.slot,
            position=target.position,
            created_at=self.clock(),
        )
        session.add(attachment)
        resource.detached_at = None
        session.flush()
        return attachment

    def _mark_if_detached(self, session: Session, resource_id: uuid.UUID) -> None:
        remaining = session.scalar(
            select(func.count()).where(MediaResourceAttachment.media_resource_id == resource_id)
        )
        if not remaining:
            resource = session.get(MediaResource, resource_id)
            if resource is not None:
                resource.detached_at = self.clock()

    def detach(self, attachment_id: uuid.UUID) -> None:
        """Remove one attachment; the resource stays (it may be shared)."""

        def work(session: Session) -> None:
            attachment = session.get(MediaResourceAttachment, attachment_id)
            if attachment is None:
                raise MediaNotFoundError(f"attachment {attachment_id} not found")
            resource_id = attachment.media_resource_id
            session.delete(attachment)
            session.flush()
            self._mark_if_detached(session, resource_id)

        self._transaction(work)

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
                self._mark_if_detached(session, resource_id)
            return len(rows)

        return self._transaction(work)

    def delete_if_orphaned(
        self, resource_id: uuid.UUID, *, grace: timedelta, now: datetime | None = None
    ) -> bool:
        """Delete a resource that nothing uses: not protected, detached for longer than ``grace``.

        One conditional statement decides, so an attachment that arrives meanwhile wins: the
        row is then not deleted (and the foreign key refuses it anyway).
        """
        cutoff = (now or self.clock()) - grace
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
            outbox_rows.extend(
                (row.id, row.storage_key)
                for row in enqueue(session, [resource.storage_key], "orphan")
            )
            return True

        try:
            deleted = self._transaction(work, attempts=3)
        except ConflictError:
            return False
        self._drain(outbox_rows)
        return deleted

    # -- metadata ----------------------------------------------------------------------------

    def patch_metadata(self, resource_id: uuid.UUID, values: dict[str, Any]) -> MediaResource:
        """Fill only the fields that are still null; set ones are kept, silently."""
        unknown = set(values) - set(METADATA_FIELDS)
        if unknown:
            raise InvalidMediaInputError(f"unknown fields: {', '.join(sorted(unknown))}")

        def work(session: Session) -> MediaResource:
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                raise MediaNotFoundError(f"media resource {resource_id} not found")
            for name, value in values.items():
                if value is None or getattr(resource, name) is not None:
                    continue
                if name == "color_profile" and resource.resource_type is ResourceType.VIDEO:
                    continue
                if name == "duration" and resource.resource_type is ResourceType.IMAGE:
                    continue
                setattr(resource, name, value)
            return resource

        return self._transaction(work)

    def set_protected(self, resource_id: uuid.UUID, protected: bool) -> MediaResource:
        def work(session: Session) -> MediaResource:
            resource = session.get(MediaResource, resource_id)
            if resource is None:
                raise MediaNotFoundError(f"media resource {resource_id} not found")
            resource.protected = protected
            return resource

        return self._transaction(work)
