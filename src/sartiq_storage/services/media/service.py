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

import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from sartiq_storage.adapters import image_metadata
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import (
    Base,
    MediaIngestion,
    MediaResource,
    MediaResourceAttachment,
    ResourceType,
    UploadIntent,
    table_of,
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
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import (
    ConflictError,
    InvalidMediaInputError,
    MediaNotFoundError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.keys import MediaKey, parse_key
from sartiq_storage.core.sniff import SNIFF_BYTES, Sniffed, sniff
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.deletions import (
    LEASE,
    DeletionQueue,
    KeyStatus,
    enqueue,
    unreferenceable,
)
from sartiq_storage.services.media.hashing import stream_digests

IMMUTABLE = "public, max-age=31536000, immutable"
logger = logging.getLogger(__name__)
INGESTIBLE_PREFIXES = ("temp/", "compute/")
HEADER_BYTES = 256 * 1024
"""The prefix libvips parses for an image's header (dimensions, profile, pixel limit)."""
_READ_AT_ONCE = 16 * 1024 * 1024
"""Uploads up to this size are read in one buffer before they are sniffed; a larger one is
sniffed from its first chunks, and not read further unless it is an accepted type."""
_T = TypeVar("_T")
_A = TypeVar("_A")
_R = TypeVar("_R")
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
class _Known:
    """What the database already holds for a verified upload (read before any write)."""

    resource_id: uuid.UUID
    storage_key: str
    sha256: str | None
    rank: int


@functools.cache
def _column_keys(model: type[Base]) -> tuple[str, ...]:
    return tuple(attr.key for attr in sa_inspect(model).column_attrs)


def _columns(row: Base) -> dict[str, Any]:
    """A mapped object's column values, for a Core INSERT (no unit-of-work flush)."""
    return {key: getattr(row, key) for key in _column_keys(type(row))}


# The ingest hot path's statements, built once: Core on the session's connection skips the
# unit of work and the statement construction (half of an ingest's time on the ORM path).
_RESOURCES = table_of(MediaResource)
_INGESTIONS = table_of(MediaIngestion)
_ATTACHMENTS = table_of(MediaResourceAttachment)
_INTENTS = table_of(UploadIntent)
_INSERT_RESOURCE = insert(_RESOURCES)
_INSERT_INGESTION = insert(_INGESTIONS)
_INSERT_ATTACHMENT = insert(_ATTACHMENTS)
_INGESTED_AS = select(_INGESTIONS.c.media_resource_id).where(
    _INGESTIONS.c.source_key == bindparam("b_key")
)
_IN_LIST_MAX = 500
"""Values per expanded IN list: SQLite and PostgreSQL cap a statement's bound parameters."""
_KNOWN_BY_HASHES = (
    select(
        _RESOURCES.c.content_hash,
        _RESOURCES.c.id,
        _RESOURCES.c.storage_key,
        _RESOURCES.c.sha256,
        _RESOURCES.c.collision_rank,
    )
    .where(_RESOURCES.c.content_hash.in_(bindparam("b_md5s", expanding=True)))
    .order_by(_RESOURCES.c.content_hash, _RESOURCES.c.collision_rank)
)
_SLOT_HOLDER = select(_ATTACHMENTS.c.id, _ATTACHMENTS.c.media_resource_id).where(
    _ATTACHMENTS.c.entity_type == bindparam("b_type"),
    _ATTACHMENTS.c.entity_id == bindparam("b_entity"),
    _ATTACHMENTS.c.slot == bindparam("b_slot"),
    func.coalesce(_ATTACHMENTS.c.position, -1) == bindparam("b_position"),
)
_DELETE_ATTACHMENT = delete(_ATTACHMENTS).where(_ATTACHMENTS.c.id == bindparam("b_id"))
_FILL_SHA256 = (
    update(_RESOURCES)
    .where(_RESOURCES.c.id == bindparam("b_id"), _RESOURCES.c.sha256.is_(None))
    .values(sha256=bindparam("b_sha"))
)
_CLEAR_DETACHED = (
    update(_RESOURCES)
    .where(_RESOURCES.c.id == bindparam("b_id"), _RESOURCES.c.detached_at.is_not(None))
    .values(detached_at=None)
)
_SLOTS_OF_ENTITIES = select(
    _ATTACHMENTS.c.entity_type,
    _ATTACHMENTS.c.entity_id,
    _ATTACHMENTS.c.slot,
    func.coalesce(_ATTACHMENTS.c.position, -1).label("position"),
).where(
    _ATTACHMENTS.c.entity_type.in_(bindparam("b_types", expanding=True)),
    _ATTACHMENTS.c.entity_id.in_(bindparam("b_entities", expanding=True)),
)
_SLOT_LOCK_SPACE = 0x5107
"""The first key of the slots' PostgreSQL advisory locks (the second: the slot's hash)."""
_LOCK_SLOTS = text(
    "SELECT pg_advisory_xact_lock(:space, k) "
    "FROM (SELECT DISTINCT unnest(CAST(:keys AS integer[])) AS k ORDER BY k) AS slots"
)
_CLAIM_INTENT = (
    update(_INTENTS)
    .where(_INTENTS.c.storage_key == bindparam("b_key"), _INTENTS.c.claimed_at.is_(None))
    .values(claimed_at=bindparam("b_now"), media_resource_id=bindparam("b_resource"))
)


class _Unconfirmed(Exception):
    """A resource with the same MD5 appeared meanwhile: its bytes need a look first."""


def _outcome(step: Callable[[_A], _R], argument: _A) -> _R | Exception:
    """Run one item's step of a batch, keeping its error as its result."""
    try:
        return step(argument)
    except Exception as exc:  # noqa: BLE001 - reported by the batch, item by item
        return exc


@dataclass(frozen=True, slots=True)
class _Verified:
    key: str
    size: int
    md5: str
    sha256: str | None
    """None when not computed at ingest (deferred enrichment)."""
    kind: Sniffed
    metadata: MediaMetadata
    payload: bytes | None = None
    """The bytes to store instead of the upload's (an image rewritten upright, without its
    location); None to store the upload as it is, by server-side copy."""
    source: ObjectInfo | None = None
    """The upload as read: its copy is pinned to this ETag, and needs no second look."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An ingest verified and matched (hit) or promoted (miss), not yet recorded."""

    verified: _Verified
    target: AttachTo | None
    resource_id: uuid.UUID
    canonical: str | None
    """The promoted copy on a miss; None on a hit."""
    collision_rank: int = 0
    sha256_fills: tuple[tuple[uuid.UUID, str], ...] = ()
    """SHA-256s of existing resources computed while matching: saved with the record."""


def _slot_of(target: AttachTo) -> tuple[str, uuid.UUID, str, int]:
    """A slot as the unique index sees it (a single slot's null position counts as -1)."""
    position = -1 if target.position is None else target.position
    return (target.entity_type, target.entity_id, target.slot, position)


def _map_outcomes(
    pool: ThreadPoolExecutor | None, step: Callable[[_A], _R], arguments: Sequence[_A]
) -> list[_R | Exception]:
    """Each argument's :func:`_outcome`, on the pool's threads when there is one."""
    if pool is None:
        return [_outcome(step, argument) for argument in arguments]
    return list(pool.map(lambda argument: _outcome(step, argument), arguments))


def _slot_lock_key(target: AttachTo) -> int:
    """A slot's advisory lock key: 32 bits of its hash (two slots sharing one only queue)."""
    digest = hashlib.blake2b(repr(_slot_of(target)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _slot_params(target: AttachTo) -> dict[str, Any]:
    entity_type, entity_id, slot, position = _slot_of(target)
    return {"b_type": entity_type, "b_entity": entity_id, "b_slot": slot, "b_position": position}


def _follower_slot_reused(
    outcomes: Sequence[object], items: Sequence[tuple[MediaInput, AttachTo]]
) -> bool:
    """Whether an item after a follower (a ``_Verified`` left to match its leader once the
    batch is recorded) targets the follower's slot, which recording it last would steal."""
    last = {_slot_of(target): i for i, (_, target) in enumerate(items)}
    return any(
        isinstance(outcome, _Verified) and last[_slot_of(items[i][1])] > i
        for i, outcome in enumerate(outcomes)
    )


def _distinct_slots(batch: Sequence[_Prepared]) -> bool:
    slots = [_slot_of(p.target) for p in batch if p.target is not None]
    return len(slots) == len(set(slots))


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

    def close(self) -> None:
        """Remove the outbox rows of deletions already done (they are batched)."""
        self.deletions.flush_acks()

    # -- transactions ------------------------------------------------------------------------

    def _transaction(self, work: Callable[[Session], _T], *, attempts: int = 8) -> _T:
        """Run ``work`` in a transaction, retrying races the constraints detected."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                with self.db.session() as session:
                    return work(session)
            except (IntegrityError, OperationalError, StaleDataError) as exc:
                # A constraint caught a race, or a row this transaction changes was changed
                # or deleted by another one meanwhile (StaleDataError): start over.
                last = exc
        # The driver's account (SQL, constraint names, values) is for the log, not the caller.
        logger.warning("gave up after %d conflicting attempts: %s", attempts, last)
        raise ConflictError(f"gave up after {attempts} conflicting attempts; try again")

    def _lock_slots(self, session: Session, targets: Sequence[AttachTo | None]) -> None:
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
        keys = {_slot_lock_key(t) for t in targets if t is not None} - locked
        if keys:
            session.connection().execute(
                _LOCK_SLOTS, {"space": _SLOT_LOCK_SPACE, "keys": sorted(keys)}
            )
            locked.update(keys)

    def _drain(self, outbox_rows: list[tuple[Any, str]], status: KeyStatus | None = None) -> None:
        """Run this operation's deletions now; any failure is the worker's to retry.

        The change is committed, so the caller succeeded: a failing or crashing delete must
        not turn that into an error. The outbox rows stay (leased) and are retried.
        """
        if not (self.drain_after_commit and outbox_rows):
            return
        try:
            self.deletions.delete_now(outbox_rows, status)
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
        """Ingest several inputs; results come back in the order of ``items``.

        A batch is pipelined: every upload is verified and promoted first (on ``concurrency``
        threads, overlapping their store round trips), then one transaction records them
        all and one batch call deletes their sources. If an input fails, the others are
        still recorded and the first error is raised; every ingest is idempotent, so the
        batch can simply be retried.
        """
        if len(items) <= 1:
            return [self.ingest(media, target) for media, target in items]

        # Bytes seen twice in one batch: the first (the leader) is promoted and recorded with
        # the batch; the others wait for it and then match it as a plain hit. Promoting both
        # would make the batch's transaction trip over its own unique content hash.
        def verify(item: tuple[MediaInput, AttachTo]) -> _Verified | IngestResult:
            media, target = item
            if media.media_resource_id is not None:
                return self._attach_existing(media.media_resource_id, target)
            assert media.url is not None
            key = self.urls.key_from_url(media.url, prefix="temp/")
            return self._verify_upload(key, target, media)

        workers = min(max(concurrency, 1), len(items))
        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        try:
            outcomes: list[_Prepared | _Verified | IngestResult | Exception]
            outcomes = list(_map_outcomes(pool, verify, items))
            leaders: dict[tuple[str, int], int] = {}
            for i, outcome in enumerate(outcomes):
                if isinstance(outcome, _Verified):
                    leaders.setdefault((outcome.md5, outcome.size), i)
            known = self._known_many([md5 for md5, _ in leaders])

            def match(i: int) -> _Prepared:
                verified = outcomes[i]
                assert isinstance(verified, _Verified)
                return self._match(verified, items[i][1], known=known.get(verified.md5, []))

            order = list(leaders.values())
            for i, matched in zip(order, _map_outcomes(pool, match, order), strict=True):
                outcomes[i] = matched
        finally:
            if pool is not None:
                pool.shutdown()
        pending = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, _Prepared)]
        if pending and not _follower_slot_reused(outcomes, items):
            try:
                recorded = self._record([o for _, o in pending])
            except (_Unconfirmed, ConflictError):
                recorded = [None] * len(pending)  # settled one by one below
            for (i, _), result in zip(pending, recorded, strict=True):
                if result is not None:
                    outcomes[i] = result
        # The rest, one by one in item order: followers (their leader is recorded now), and
        # every item when a follower recorded last would take a slot from a later item.
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, _Prepared):
                outcomes[i] = _outcome(self._finish, outcome)
            elif isinstance(outcome, _Verified):
                outcomes[i] = _outcome(self._finish_follower, (outcome, items[i][1]))
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return [o for o in outcomes if isinstance(o, IngestResult)]

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
            self._lock_slots(session, [target])
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

        One GET reads the upload: its first bytes are sniffed before the rest is read (what
        is not an accepted type is refused after ``HEADER_BYTES``), then every byte of an
        image is walked for metadata, and a video is probed whole. With
        ``inline_enrichment`` (the default) the bytes are hashed (MD5, SHA-256) and the
        dominant colour computed. Without it, dimensions come from the header, a plain-MD5
        ETag is the content hash (the store computed it from the stored bytes) and the
        enrichment is left to ``heal``.
        """
        # One GET does what HEAD + GET would: its answer carries the size and the ETag, and
        # the size is checked before any of the body is read.
        try:
            stream = self.store.get(key)
        except ObjectNotFoundError:
            raise UploadMissingError(
                f"{key} does not exist (the upload expired, never finished, or was removed)"
            ) from None
        with stream:
            info = stream.info
            if info.size > self.max_file_size:
                raise UploadTooLargeError(
                    f"{key} is {info.size} bytes, over the {self.max_file_size} byte limit"
                )
            if info.size == 0:
                raise UnsupportedMediaError(f"{key} is empty")
            failpoints.hit("ingest.headed")
            if info.size <= _READ_AT_ONCE:  # one buffer: no join, no second copy
                data = stream.read()
                kind = sniff(data[:SNIFF_BYTES])
            else:  # sniffed from the first chunks: what is not accepted is not read further
                chunks = iter(stream)
                parts: list[bytes] = []
                for chunk in chunks:
                    parts.append(chunk)
                    if sum(len(part) for part in parts) >= HEADER_BYTES:
                        break
                kind = sniff(b"".join(parts)[:SNIFF_BYTES])
                data = b"".join([*parts, *chunks]) if kind is not None else b""
        if kind is None:
            raise UnsupportedMediaError(
                f"{key} is not an accepted image or video (checked from its bytes)"
            )
        # Hashing needs every byte; deferred enrichment hashes only what it must: a video or
        # a header past the prefix was read whole to be probed (as before), and an upload
        # without a plain-MD5 ETag has no other hash. An image read whole only for the
        # metadata walk keeps the ETag's MD5 (the walk proves the bytes need no change).
        hashed = self.inline_enrichment or info.md5 is None
        metadata: MediaMetadata | None = None
        # Deferred enrichment leaves the dominant colour to heal even when every byte is here:
        # the header gives dimensions and profile at a fraction of a decode.
        if not self.inline_enrichment and kind.resource_type == "IMAGE":
            metadata = self._header(key, data, kind)
        if metadata is None:
            hashed = True
            try:
                metadata = probe(data, kind.resource_type, max_pixels=self.max_pixels)
            except MediaProbeError as exc:
                raise UnsupportedMediaError(f"{key}: {exc}") from None
        payload: bytes | None = None
        # Metadata can hide anywhere in an image, unseen by libvips: every byte is walked.
        if kind.resource_type == "IMAGE" and (
            metadata.needs_rewrite or image_metadata.findings(data, kind.extension)
        ):
            payload, kind, metadata = self._rewrite(key, data, kind, metadata)
            data = payload  # the hash covers the bytes stored and served
        if hashed or payload is not None:  # else the ETag's MD5 stands
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
        return _Verified(key, size, md5, sha, kind, metadata, payload, info)

    def _header(self, key: str, data: bytes, kind: Sniffed) -> MediaMetadata | None:
        """Dimensions and profile from the header alone, no pixel decoded (None: unreadable).

        The prefix first (libvips copies its input); then every byte, which a HEIF or AVIF
        whose EXIF item sits after its pixels needs (libheif reads that item when it opens
        the file, and refuses a prefix). Probing such an image whole instead decoded it for
        its colour: +1.5 GB at 100 megapixels (issue 14).
        """
        parts: list[bytes | memoryview] = [data]
        if len(data) > HEADER_BYTES:
            parts.insert(0, memoryview(data)[:HEADER_BYTES])
        for part in parts:
            try:
                return probe_image_header(
                    part, max_pixels=self.max_pixels, extension=kind.extension
                )
            except DecompressionBombError as exc:
                raise UnsupportedMediaError(f"{key}: {exc}") from None
            except MediaProbeError:
                continue
        return None

    def _rewrite(
        self, key: str, data: bytes, kind: Sniffed, metadata: MediaMetadata
    ) -> tuple[bytes, Sniffed, MediaMetadata]:
        """Store a photo upright and without its metadata (``docs/media.md``, privacy)."""
        try:
            rotate = metadata.orientation not in (0, 1)
            rewritten, reencoded = image_metadata.clean(data, kind.extension, rotate=rotate)
            if not reencoded:  # the same encoded pixels: dimensions and colours are unchanged
                return rewritten, kind, replace(metadata, has_location=False)
            new_kind = sniff(rewritten[:SNIFF_BYTES])
            if new_kind is None:
                raise MediaProbeError("the rewritten image is not an accepted type")
            if self.inline_enrichment:
                metadata = probe(rewritten, "IMAGE", max_pixels=self.max_pixels)
            else:
                metadata = probe_image_header(
                    rewritten, max_pixels=self.max_pixels, extension=new_kind.extension
                )
        except MediaProbeError as exc:
            raise UnsupportedMediaError(f"{key}: {exc}") from None
        return rewritten, new_kind, metadata

    def _sha256_of(self, key: str) -> str:
        return stream_digests(self.store, key, "sha256")["sha256"]

    def _ingest_key(
        self, key: str, target: AttachTo | None, *, hints: MediaInput | None
    ) -> IngestResult:
        prepared = self._prepare(key, target, hints)
        if isinstance(prepared, IngestResult):
            return prepared
        return self._finish(prepared)

    def _prepare(
        self, key: str, target: AttachTo | None, hints: MediaInput | None
    ) -> _Prepared | IngestResult:
        """Every step before the write: verify, look up by hash, confirm a hit or promote."""
        verified = self._verify_upload(key, target, hints)
        if isinstance(verified, IngestResult):
            return verified
        return self._match(verified, target)

    def _verify_upload(
        self, key: str, target: AttachTo | None, hints: MediaInput | None
    ) -> _Verified | IngestResult:
        """Verify ``key``; if it is gone because an earlier attempt took it, what it became."""
        try:
            return self._verify(key, hints)
        except UploadMissingError:
            done = self._previously_ingested(key, target)
            if done is not None:
                return done
            raise

    def _match(
        self,
        verified: _Verified,
        target: AttachTo | None,
        *,
        promoted: _Prepared | None = None,
        known: list[_Known] | None = None,
    ) -> _Prepared:
        """Find the resource holding these bytes (a hit) or promote them (a miss).

        MD5 is the platform's ``content_hash``, and MD5 collisions can be made at will, so a
        hash hit counts only when SHA-256 agrees on both sides (computed now where ingest
        skipped it). Different bytes behind the same MD5 become a resource of their own,
        with the next ``collision_rank``. ``promoted``: a copy made on an earlier attempt.
        """
        candidates = self._known(verified) if known is None else known
        rank = 0
        fills: list[tuple[uuid.UUID, str]] = []
        if candidates:
            if verified.sha256 is None:
                verified = replace(verified, sha256=self._sha256_of(verified.key))
            for candidate in candidates:
                theirs = candidate.sha256
                if theirs is None:
                    theirs = self._sha256_of(candidate.storage_key)
                    fills.append((candidate.resource_id, theirs))
                if theirs == verified.sha256:
                    canonical = None if promoted is None else promoted.canonical
                    resource_id = uuid.uuid4() if promoted is None else promoted.resource_id
                    return _Prepared(
                        verified, target, resource_id, canonical, candidate.rank, tuple(fills)
                    )
            rank = max(candidate.rank for candidate in candidates) + 1
            logger.warning("MD5 collision on %s: different bytes, new resource", verified.md5)
        if promoted is not None and promoted.canonical is not None:
            return replace(
                promoted, verified=verified, collision_rank=rank, sha256_fills=tuple(fills)
            )
        resource_id = uuid.uuid4()
        canonical = self._promote(verified, resource_id)  # the copy exists before any row
        return _Prepared(verified, target, resource_id, canonical, rank, tuple(fills))

    def _finish_follower(self, follower: tuple[_Verified, AttachTo]) -> IngestResult:
        verified, target = follower
        try:
            return self._finish(self._match(verified, target))
        except ObjectNotFoundError:
            # The same upload twice in one batch: the leader took it and its source is gone.
            done = self._previously_ingested(verified.key, target)
            if done is None:
                raise
            return done

    def _finish(self, prepared: _Prepared) -> IngestResult:
        """Record one prepared ingest, settling what changed since it was prepared."""
        for _ in range(4):
            try:
                result = self._record([prepared])[0]
            except _Unconfirmed:  # a concurrent winner whose bytes need a look
                result = None
            if result is not None:
                return result
            # Meanwhile a hit vanished, or a winner needs confirming: look again.
            prepared = self._match(prepared.verified, prepared.target, promoted=prepared)
        raise ConflictError(f"{prepared.verified.key}: the matching resource kept changing")

    def _known(self, verified: _Verified) -> list[_Known]:
        """One read: the resources with the same MD5 (one, but for collisions)."""
        return self._known_many([verified.md5]).get(verified.md5, [])

    def _known_many(self, md5s: list[str]) -> dict[str, list[_Known]]:
        """One read for a whole batch: the resources holding each MD5, by rank."""
        known: dict[str, list[_Known]] = {}
        with self.db.read_connection() as conn:
            for start in range(0, len(md5s), _IN_LIST_MAX):  # bound parameters are limited
                chunk = md5s[start : start + _IN_LIST_MAX]
                for r in conn.execute(_KNOWN_BY_HASHES, {"b_md5s": chunk}):
                    known.setdefault(r.content_hash, []).append(
                        _Known(r.id, r.storage_key, r.sha256, r.collision_rank)
                    )
        return known

    def _promote(self, verified: _Verified, resource_id: uuid.UUID) -> str:
        """Create-only server-side copy to the canonical key, confirmed before any row."""
        canonical = MediaKey(resource_id, verified.kind.extension).key
        if verified.payload is not None:  # rewritten bytes: written, not copied
            put = self.store.put(
                canonical,
                verified.payload,
                content_type=verified.kind.content_type,
                cache_control=IMMUTABLE,
                if_absent=True,
            )
            failpoints.hit("ingest.copied")
            etag = (put.etag or "").strip('"').lower()
            plain_md5 = len(etag) == 32 and all(c in "0123456789abcdef" for c in etag)
            if put.size != verified.size or (plain_md5 and etag != verified.md5):
                self._discard(canonical)
                raise ConflictError(f"{canonical} does not hold the verified bytes")
            failpoints.hit("ingest.verified")
            return canonical
        try:
            copied = self.store.copy(
                verified.key,
                canonical,
                content_type=verified.kind.content_type,
                cache_control=IMMUTABLE,
                # The key is a fresh UUID's, so create-only is defence in depth: worth a
                # header, not an extra request that a concurrent writer could still race.
                if_absent=self.store.atomic_create_only_copy,
                source_info=verified.source,
            )
        except PreconditionFailedError as exc:
            if exc.key != verified.key:
                raise
            raise ConflictError(f"{verified.key} changed while it was ingested") from None
        failpoints.hit("ingest.copied")
        if copied.md5 != verified.md5:
            # The copy's answer does not prove its bytes (no plain-MD5 ETag): look.
            copied = self.store.head(canonical)
        if copied.size != verified.size or copied.md5 not in (None, verified.md5):
            # A store that ignores the pin (moto, a generic S3) copied swapped bytes.
            self._discard(canonical)
            raise ConflictError(f"{canonical} does not hold the verified bytes")
        failpoints.hit("ingest.verified")
        return canonical

    def _discard(self, canonical: str) -> None:
        """Remove a copy that is not what was verified: its key is a fresh UUID's, ours alone,
        and no row names it. If the delete fails the orphan scan finds it."""
        try:
            self.store.delete(canonical)
        except StorageError:
            logger.warning("could not remove %s, which holds unverified bytes", canonical)

    def _record(self, batch: list[_Prepared]) -> list[IngestResult | None]:
        """The one write transaction for prepared ingests (None: a hit vanished meanwhile),
        then one post-commit deletion of their sources.
        """
        outbox_rows: list[tuple[Any, str]] = []
        stale: list[str] = []
        lease = self.clock() + LEASE if self.drain_after_commit else None
        attempts = 0

        def work(session: Session) -> list[IngestResult | None]:
            nonlocal attempts
            attempts += 1
            outbox_rows.clear()
            stale.clear()
            self._lock_slots(session, [p.target for p in batch])
            # First, so that the winner checks below can tell these resources apart.
            fills = [{"b_id": rid, "b_sha": sha} for p in batch for rid, sha in p.sha256_fills]
            if fills:
                session.connection().execute(_FILL_SHA256, fills)
            results: list[IngestResult | None] = []
            if attempts == 1 and len(batch) > 1 and _distinct_slots(batch):
                results = self._record_many(session, batch, stale)
            else:
                for prepared in batch:
                    result, keys = self._record_one(session, prepared, recheck=attempts > 1)
                    results.append(result)
                    stale.extend(keys)
            if stale:
                outbox_rows.extend(enqueue(session, stale, "ingested", not_before=lease))
            failpoints.hit("ingest.before_commit")
            return results

        results = self._transaction(work)
        failpoints.hit("ingest.committed")
        self._drain(outbox_rows, unreferenceable(stale))
        return results

    def _record_many(
        self, session: Session, batch: list[_Prepared], stale: list[str]
    ) -> list[IngestResult | None]:
        """:meth:`_record_one` for a whole batch, each statement run once for all of it.

        The batch's slots are distinct, so the order among its items does not matter. New
        resources go in with one multi-row INSERT per table: a race with another ingest
        shows as an IntegrityError, and the retry then records item by item, looking first.
        """
        results: list[IngestResult | None] = [None] * len(batch)
        fresh: list[tuple[int, _Prepared, MediaResource]] = []
        for i, prepared in enumerate(batch):
            if prepared.canonical is None:  # a hit: the winner is looked up in this write
                results[i], keys = self._record_one(session, prepared, recheck=False)
                stale.extend(keys)
                continue
            resource = self._new_resource(
                prepared.resource_id, prepared.canonical, prepared.verified
            )
            resource.collision_rank = prepared.collision_rank
            if prepared.target is not None:
                resource.detached_at = None  # attached in this same transaction
            fresh.append((i, prepared, resource))
        if not fresh:
            return results
        conn = session.connection()
        conn.execute(_INSERT_RESOURCE, [_columns(resource) for _, _, resource in fresh])
        conn.execute(
            _INSERT_INGESTION,
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
        taken = self._taken_slots(session, targets)
        new_attachments: list[MediaResourceAttachment] = []
        for i, prepared, resource in fresh:
            target = prepared.target
            attachment: MediaResourceAttachment | None = None
            if target is not None and _slot_of(target) in taken:
                attachment = self._attach(session, resource, target)  # a replacement
            elif target is not None:
                attachment = self._new_attachment(resource.id, target)
                new_attachments.append(attachment)
            results[i] = IngestResult(resource, attachment, created=True)
            stale.append(prepared.verified.key)
        if new_attachments:
            conn.execute(_INSERT_ATTACHMENT, [_columns(a) for a in new_attachments])
        claims = [
            {"b_key": prepared.verified.key, "b_now": self.clock(), "b_resource": resource.id}
            for _, prepared, resource in fresh
            if prepared.verified.key.startswith("temp/")
        ]
        if claims:
            conn.execute(_CLAIM_INTENT, claims)
        return results

    @staticmethod
    def _taken_slots(
        session: Session, targets: list[AttachTo]
    ) -> set[tuple[str, uuid.UUID, str, int]]:
        """Which of these slots already hold an attachment: one query for all of them."""
        types = sorted({t.entity_type for t in targets})
        entities = list({t.entity_id for t in targets})
        taken: set[tuple[str, uuid.UUID, str, int]] = set()
        for start in range(0, len(entities), _IN_LIST_MAX):  # bound parameters are limited
            rows = session.connection().execute(
                _SLOTS_OF_ENTITIES,
                {"b_types": types, "b_entities": entities[start : start + _IN_LIST_MAX]},
            )
            taken.update((r.entity_type, r.entity_id, r.slot, r.position) for r in rows)
        return taken

    def _record_one(
        self, session: Session, prepared: _Prepared, *, recheck: bool
    ) -> tuple[IngestResult | None, list[str]]:
        """Record one ingest in the batch's transaction; also name the keys it makes stale."""
        verified, target, canonical = prepared.verified, prepared.target, prepared.canonical
        key = verified.key
        # A concurrent ingest of the same bytes or source may have won since the read.
        # After a miss, the unique constraints tell (an IntegrityError, then a retry that
        # looks); after a hit, look now.
        winner: MediaResource | None = None
        same_source = False
        if canonical is None or recheck:
            winner, same_source = self._winner(session, prepared)
        if winner is not None:
            if not same_source:
                session.connection().execute(
                    _INSERT_INGESTION,
                    {"source_key": key, "media_resource_id": winner.id, "created_at": self.clock()},
                )
            attachment = self._attach(session, winner, target) if target else None
            self._claim_intent(session, key, winner.id)
            stale = [key] if canonical is None else [key, canonical]
            return IngestResult(winner, attachment, created=False), stale
        if canonical is None:
            return None, []
        resource = self._new_resource(prepared.resource_id, canonical, verified)
        resource.collision_rank = prepared.collision_rank
        if target is not None:
            resource.detached_at = None  # attached in this same transaction
        conn = session.connection()
        conn.execute(_INSERT_RESOURCE, _columns(resource))
        conn.execute(
            _INSERT_INGESTION,
            {
                "source_key": key,
                "media_resource_id": resource.id,
                "created_at": resource.created_at,
            },
        )
        attachment = self._attach(session, resource, target) if target else None
        self._claim_intent(session, key, resource.id)
        return IngestResult(resource, attachment, created=True), [key]

    def _claim_intent(self, session: Session, key: str, resource_id: uuid.UUID) -> None:
        """Mark the presigned upload behind ``key`` as claimed (no-op for other sources)."""
        if not key.startswith("temp/"):
            return
        session.connection().execute(
            _CLAIM_INTENT, {"b_key": key, "b_now": self.clock(), "b_resource": resource_id}
        )

    @staticmethod
    def _winner(session: Session, prepared: _Prepared) -> tuple[MediaResource | None, bool]:
        """Inside the write: the resource this ingest must reuse, and whether it is the
        one this very source became before (a retry). Raises :class:`_Unconfirmed` when a
        resource with the same MD5 cannot be told apart without reading bytes, or took the
        collision rank this ingest was going to use.
        """
        verified = prepared.verified
        conn = session.connection()
        resource_id = conn.execute(_INGESTED_AS, {"b_key": verified.key}).scalar()
        if resource_id is not None:
            return session.get(MediaResource, resource_id), True
        rows = conn.execute(_KNOWN_BY_HASHES, {"b_md5s": [verified.md5]}).all()
        for row in rows:
            if row.sha256 is None or verified.sha256 is None:
                raise _Unconfirmed()
            if row.sha256 == verified.sha256:
                return session.get(MediaResource, row.id), False
        if any(row.collision_rank == prepared.collision_rank for row in rows):
            raise _Unconfirmed()
        return None, False

    def _register_canonical(self, key: MediaKey, target: AttachTo | None) -> IngestResult:
        existing = self._previously_ingested(key.key, target)
        if existing is not None:
            return existing
        verified = self._verify(key.key, None)
        if verified.kind.extension != key.extension.lower():
            raise UnsupportedMediaError(
                f"{key.key} holds {verified.kind.content_type}, not .{key.extension}"
            )
        if verified.payload is not None:  # registered in place: the cleaned bytes replace it
            self.store.put(
                key.key,
                verified.payload,
                content_type=verified.kind.content_type,
                cache_control=IMMUTABLE,
            )

        def work(session: Session) -> IngestResult:
            self._lock_slots(session, [target])
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
        """Put ``resource`` in the slot; a different resource already there is replaced.

        Core statements on the session's connection, as on the rest of the ingest path: the
        returned attachment is not tracked by the session (nothing is left to flush).
        """
        self._lock_slots(session, [target])  # taken already on the ingest paths
        conn = session.connection()
        current = conn.execute(_SLOT_HOLDER, _slot_params(target)).first()
        if current is not None and current.media_resource_id == resource.id:
            existing = session.get(MediaResourceAttachment, current.id)
            if existing is not None:
                self._mark_attached(session, resource)
                return existing
            current = None  # detached by a concurrent call since the look: the slot is free
        if current is not None:
            # A plain DELETE: a concurrent replacement may have removed the row already.
            conn.execute(_DELETE_ATTACHMENT, {"b_id": current.id})
            self._mark_if_detached(session, current.media_resource_id)
        attachment = self._new_attachment(resource.id, target)
        conn.execute(_INSERT_ATTACHMENT, _columns(attachment))
        self._mark_attached(session, resource)
        return attachment

    @staticmethod
    def _mark_attached(session: Session, resource: MediaResource) -> None:
        """Clear ``detached_at`` in the database and on the object, without a flush."""
        if resource.detached_at is None:
            return
        session.connection().execute(_CLEAR_DETACHED, {"b_id": resource.id})
        if sa_inspect(resource).persistent:
            set_committed_value(resource, "detached_at", None)
        else:
            resource.detached_at = None

    def _new_attachment(self, resource_id: uuid.UUID, target: AttachTo) -> MediaResourceAttachment:
        return MediaResourceAttachment(
            id=uuid.uuid4(),
            media_resource_id=resource_id,
            entity_type=target.entity_type,
            entity_id=target.entity_id,
            slot=target.slot,
            position=target.position,
            created_at=self.clock(),
        )

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
            gone = session.execute(
                delete(MediaResourceAttachment)
                .where(MediaResourceAttachment.id == attachment_id)
                .execution_options(synchronize_session=False)
            )
            if getattr(gone, "rowcount", 1) == 0:  # detached by a concurrent call meanwhile
                raise MediaNotFoundError(f"attachment {attachment_id} not found")
            session.expunge(attachment)
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
            outbox_rows.extend(enqueue(session, [resource.storage_key], "orphan"))
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
