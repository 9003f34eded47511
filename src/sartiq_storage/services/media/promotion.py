"""Dedup and promotion: reuse the resource holding the same bytes, or copy them to their own.

A verified upload either matches a resource (a hit: MD5 and SHA-256 agree on both sides) or
is promoted (a miss): a create-only copy from ``temp/`` (or ``compute/``) to the canonical
``media/{id}/file.{ext}``, confirmed before any row names it. The one database read here is
:func:`known_many`, the lookup by MD5; the rest takes only the store.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.media_probe import MAX_PIXELS
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore, md5_from_etag
from sartiq_storage.core.errors import (
    ConflictError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
)
from sartiq_storage.core.keys import MediaKey, is_legacy
from sartiq_storage.services import failpoints
from sartiq_storage.services.media import statements as sql
from sartiq_storage.services.media.hashing import stream_digests
from sartiq_storage.services.media.model import IMMUTABLE, AttachTo, MediaInput, MediaSettings
from sartiq_storage.services.media.posters import make_poster_quietly, store_poster
from sartiq_storage.services.media.verification import (
    Upload,
    Verified,
    probe_video_upload,
    streamed_md5,
    streamed_upload_md5,
    video_verified,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Known:
    """What the database already holds for a verified upload (read before any write)."""

    resource_id: uuid.UUID
    storage_key: str
    sha256: str | None
    rank: int


@dataclass(frozen=True, slots=True)
class Prepared:
    """An ingest verified and matched (hit) or promoted (miss), not yet recorded."""

    verified: Verified
    target: AttachTo | None
    resource_id: uuid.UUID
    canonical: str | None
    """The promoted copy on a miss; None on a hit."""
    collision_rank: int = 0
    sha256_fills: tuple[tuple[uuid.UUID, str], ...] = ()
    """SHA-256s of existing resources computed while matching: saved with the record."""


def known_many(db: Database, md5s: list[str]) -> dict[str, list[Known]]:
    """One read for a whole batch: the resources holding each MD5, by rank."""
    known: dict[str, list[Known]] = {}
    with db.read_connection() as conn:
        for chunk in sql.in_lists(md5s):  # bound parameters are limited
            for r in conn.execute(sql.KNOWN_BY_HASHES, {"b_md5s": list(chunk)}):
                known.setdefault(r.content_hash, []).append(
                    Known(r.id, r.storage_key, r.sha256, r.collision_rank)
                )
    return known


def sha256_of(store: ObjectStore, key: str) -> str:
    """An object's SHA-256, streamed (for a resource or upload whose ingest skipped it)."""
    return stream_digests(store, key, "sha256")["sha256"]


def match(
    store: ObjectStore,
    verified: Verified,
    target: AttachTo | None,
    known: list[Known],
    *,
    promoted: Prepared | None = None,
) -> Prepared:
    """Find the resource holding these bytes (a hit) or promote them (a miss).

    MD5 is the platform's ``content_hash``, and MD5 collisions can be made at will, so a
    hash hit counts only when SHA-256 agrees on both sides (computed now where ingest
    skipped it). Different bytes behind the same MD5 become a resource of their own,
    with the next ``collision_rank``. ``known``: the resources with the same MD5;
    ``promoted``: a copy made on an earlier attempt.
    """
    rank = 0
    fills: list[tuple[uuid.UUID, str]] = []
    if known:
        if verified.sha256 is None:
            verified = replace(verified, sha256=sha256_of(store, verified.key))
        for candidate in known:
            theirs = candidate.sha256
            if theirs is None:
                theirs = sha256_of(store, candidate.storage_key)
                fills.append((candidate.resource_id, theirs))
            if theirs == verified.sha256:
                canonical = None if promoted is None else promoted.canonical
                restore_if_missing(store, verified, candidate.storage_key, copy_of=canonical)
                resource_id = uuid.uuid4() if promoted is None else promoted.resource_id
                return Prepared(
                    verified, target, resource_id, canonical, candidate.rank, tuple(fills)
                )
        rank = max(candidate.rank for candidate in known) + 1
        logger.warning("MD5 collision on %s: different bytes, new resource", verified.md5)
    if promoted is not None and promoted.canonical is not None:
        return replace(promoted, verified=verified, collision_rank=rank, sha256_fills=tuple(fills))
    resource_id = uuid.uuid4()
    canonical = promote(store, verified, resource_id)  # the copy exists before any row
    return Prepared(verified, target, resource_id, canonical, rank, tuple(fills))


def restore_if_missing(
    store: ObjectStore, verified: Verified, key: str, *, copy_of: str | None = None
) -> None:
    """A hit on a resource whose object is gone (lost by the store or removed by hand: the
    orphan scan reports such rows for heal) puts it back from these bytes, which match it
    by MD5 and SHA-256. Otherwise the upload, deleted once the hit is recorded, would take
    the last copy of the bytes with it, and the caller would get a resource whose file is a
    404 that heal can no longer restore. ``copy_of``: the promoted copy of an earlier
    attempt (it holds the verified bytes). Legacy keys are read-only: never written.
    """
    if is_legacy(key) or store.exists(key):
        return
    logger.warning("%s is missing; restored from %s, which holds the same bytes", key, verified.key)
    try:
        if verified.payload is not None:  # rewritten bytes: written, not copied
            store.put(
                key,
                verified.payload,
                content_type=verified.kind.content_type,
                cache_control=IMMUTABLE,
                if_absent=True,
            )
            return
        copied = store.copy(
            copy_of or verified.key,
            key,
            content_type=verified.kind.content_type,
            cache_control=IMMUTABLE,
            if_absent=True,
            source_info=None if copy_of else verified.source,
        )
    except PreconditionFailedError as exc:
        if exc.key == key:
            return  # restored meanwhile by a concurrent ingest of the same bytes
        raise ConflictError(f"{verified.key} changed while it was ingested") from None
    # Missing again if not the verified bytes: never bytes the row does not describe.
    holds_verified(
        store, verified, key, copied, f"{key} could not be restored with the verified bytes"
    )


def promote(store: ObjectStore, verified: Verified, resource_id: uuid.UUID) -> str:
    """Create-only server-side copy to the canonical key, confirmed before any row; a
    video's poster frame is stored beside it (:func:`confirm`)."""
    canonical = MediaKey(resource_id, verified.kind.extension).key
    if verified.payload is not None:  # rewritten bytes: written, not copied
        put = store.put(
            canonical,
            verified.payload,
            content_type=verified.kind.content_type,
            cache_control=IMMUTABLE,
            if_absent=True,
        )
        failpoints.hit("ingest.copied")
        stored_md5 = md5_from_etag(put.etag)
        if put.size != verified.size or stored_md5 not in (None, verified.md5):
            discard(store, canonical)
            raise ConflictError(f"{canonical} does not hold the verified bytes")
        failpoints.hit("ingest.verified")
        return canonical
    assert verified.source is not None
    copied = copy_unconfirmed(store, verified.source, verified.kind.content_type, canonical)
    confirm(store, verified, canonical, copied)
    return canonical


def copy_unconfirmed(
    store: ObjectStore, source: ObjectInfo, content_type: str, canonical: str
) -> ObjectInfo:
    """The create-only server-side copy of the upload ``source`` describes to
    ``canonical``, pinned to its ETag; :func:`confirm` checks it (it may run while the MD5
    is still being computed: :func:`promote_streaming`)."""
    try:
        copied = store.copy(
            source.key,
            canonical,
            content_type=content_type,
            cache_control=IMMUTABLE,
            # The key is a fresh UUID's, so create-only is defence in depth: worth a
            # header, not an extra request that a concurrent writer could still race.
            if_absent=store.atomic_create_only_copy,
            source_info=source,
        )
    except PreconditionFailedError as exc:
        if exc.key != source.key:
            raise
        raise ConflictError(f"{source.key} changed while it was ingested") from None
    failpoints.hit("ingest.copied")
    return copied


def holds_verified(
    store: ObjectStore, verified: Verified, key: str, copied: ObjectInfo, refusal: str
) -> ObjectInfo:
    """That ``key``, just copied (``copied``: the copy's answer), holds the verified bytes;
    else it is removed and :class:`ConflictError` (``refusal``) raised. The copy's answer
    proves its bytes only with a plain-MD5 ETag; otherwise its HEAD is looked at."""
    if copied.md5 != verified.md5:
        copied = store.head(key)
    if copied.size != verified.size or copied.md5 not in (None, verified.md5):
        discard(store, key)
        raise ConflictError(refusal)
    return copied


def confirm(store: ObjectStore, verified: Verified, canonical: str, copied: ObjectInfo) -> None:
    """That the copy holds the verified bytes (else it is removed: :class:`ConflictError`);
    then a video's poster frame is stored beside it, as its ``?type=webp`` derivative."""
    # A store that ignores the pin (moto, a generic S3) may have copied swapped bytes.
    copied = holds_verified(
        store, verified, canonical, copied, f"{canonical} does not hold the verified bytes"
    )
    failpoints.hit("ingest.verified")
    if verified.kind.resource_type == "VIDEO":
        if copied.key != canonical or copied.etag is None:
            copied = store.head(canonical)
        if verified.poster is not None:
            store_poster(store, copied, verified.poster)
        else:
            make_poster_quietly(store, copied, max_pixels=MAX_PIXELS)


def promote_streaming(
    store: ObjectStore,
    upload: Upload,
    settings: MediaSettings,
    hints: MediaInput | None,
    target: AttachTo | None,
) -> Prepared:
    """A big video whose ETag is no MD5 (``verify_or_stream``): copied server-side, pinned to
    the ETag the sniffing GET read, and probed and hashed.

    Where the store's copy answers with the MD5 of the bytes (``copy_computes_md5``: AWS),
    that is the MD5, and no more of the video is read than the probe needs
    (:func:`_md5_from_copy`). Elsewhere the rest of the sniffing GET is hashed beside the
    copy (:func:`_md5_beside_copy`). Either way the MD5 is known only once the copy is
    made: a dedup hit then finds a copy it does not need, which the recording queues for
    deletion (as it does for a copy made by an earlier attempt). A failure (a video the
    probe refuses, a source replaced meanwhile, a store error) removes the copy before the
    error is raised: no row, no canonical object (its key is a fresh UUID's, ours alone).
    The copy's bytes are then confirmed against the MD5 (:func:`confirm`), as any
    promotion's.
    """
    assert upload.rest is not None, "a streamed promotion needs the sniffing GET kept open"
    resource_id = uuid.uuid4()
    canonical = MediaKey(resource_id, upload.kind.extension).key
    if store.copy_computes_md5(upload.info.size):
        verified, copied = _md5_from_copy(store, upload, settings, hints, canonical)
    else:
        verified, copied = _md5_beside_copy(store, upload, settings, hints, canonical)
    confirm(store, verified, canonical, copied)
    return Prepared(verified, target, resource_id, canonical)


def _md5_from_copy(
    store: ObjectStore,
    upload: Upload,
    settings: MediaSettings,
    hints: MediaInput | None,
    canonical: str,
) -> tuple[Verified, ObjectInfo]:
    """Probed, then copied; the MD5 is the copy's ETag, computed by the store from the bytes
    it copied. The sniffing GET is closed after its first chunk and the probe reads the
    index by ranged GETs: a few MB of the video leave the store, not all of it. The probe
    comes first, so a video it refuses is never copied; it takes a fraction of the copy's
    time, and beside the copy it would slow a store that is one process (moto) down more
    than it saves. A copy answering no MD5 after all is hashed (a read of the copy). Where
    the store ignores the copy's ETag pin (moto), a source replaced meanwhile is caught by
    its ETag, looked at once the copy is made."""
    close = getattr(upload.rest, "close", None)
    if close is not None:
        close()  # nothing more is read from the sniffing GET
    metadata, poster = probe_video_upload(store, upload, settings, hints)
    try:
        copied = copy_unconfirmed(store, upload.info, upload.kind.content_type, canonical)
        md5 = copied.md5 or streamed_md5(store, copied)
        _source_unchanged(store, upload.info)
    except BaseException:
        discard(store, canonical)  # whether or not the copy was made: nothing is left
        raise
    return video_verified(upload, metadata, poster, md5), copied


def _source_unchanged(store: ObjectStore, info: ObjectInfo) -> None:
    """That the upload still has the ETag it was verified by, now that its copy is made: a
    store that ignores the copy's pin (moto) would have copied a replacement."""
    try:
        now = store.head(info.key)
    except ObjectNotFoundError:
        return  # removed by us once a concurrent ingest of the same key recorded it
    if now.etag != info.etag:
        raise ConflictError(f"{info.key} changed while it was ingested")


def _md5_beside_copy(
    store: ObjectStore,
    upload: Upload,
    settings: MediaSettings,
    hints: MediaInput | None,
    canonical: str,
) -> tuple[Verified, ObjectInfo]:
    """Copied while hashed, and probed once the hash is done. The hash reads the rest of the
    sniffing GET (the bytes of that ETag, no second request) and keeps its last bytes, so
    the probe finds an MP4's index at the end with no ranged GET (any other read is a
    ranged GET, pinned too). Side by side they take about the time of the longer, the copy,
    instead of their sum."""
    cancelled = threading.Event()
    with ThreadPoolExecutor(2, thread_name_prefix="ingest-video") as pool:
        copying = pool.submit(
            copy_unconfirmed, store, upload.info, upload.kind.content_type, canonical
        )
        hashing = pool.submit(streamed_upload_md5, upload, cancelled)
        both: list[Future[Any]] = [copying, hashing]
        try:
            pending = set(both)
            while hashing in pending:  # a failed copy is raised without waiting for the hash
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for finished in done:
                    finished.result()
            streamed = hashing.result()
            metadata, poster = probe_video_upload(
                store, upload, settings, hints, tail=streamed.tail
            )
            copied = copying.result()
        except BaseException:
            cancelled.set()
            wait(both)
            discard(store, canonical)  # whether or not the copy was made: nothing is left
            raise
    return video_verified(upload, metadata, poster, streamed.md5), copied


def discard(store: ObjectStore, canonical: str) -> None:
    """Remove a copy that is not what was verified: its key is a fresh UUID's, ours alone,
    and no row names it. If the delete fails the orphan scan finds it."""
    try:
        store.delete(canonical)
    except StorageError:
        logger.warning("could not remove %s, which holds unverified bytes", canonical)
