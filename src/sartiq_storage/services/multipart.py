"""Multipart presigned uploads: big files (videos) in parts, resumable, beside the single PUT.

The protocol is S3's (create, sign parts, list parts, complete, abort) on every backend, and
its HTTP face is the one Uppy's ``@uppy/aws-s3`` speaks to Companion (docs/uploads.md). The
service adds what the bucket cannot know: who may continue an upload (its requester only),
what it may hold (an accepted content type, within the cap for its kind: the single upload's
50 MB for images, ``STORAGE_MAX_VIDEO_UPLOAD_BYTES`` for videos), and an upload intent, as a
single presign records one, so the sweep spares a live upload and ingestion finds it. A
completion the rules refuse aborts the store's upload: nothing is left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import UploadIntent, utcnow
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore, PresignedRequest
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import (
    InvalidMediaInputError,
    InvalidUploadError,
    StorageError,
    UploadNotFoundError,
    UploadNotYoursError,
    UploadTooLargeError,
)
from sartiq_storage.core.keys import Zone, classify, new_temp_upload_key
from sartiq_storage.core.multipart import (
    DEFAULT_MAX_VIDEO_BYTES,
    DEFAULT_PART_BYTES,
    MAX_PARTS,
    MIN_PART_BYTES,
    MULTIPART_UPLOAD_SECONDS,
    UploadedPart,
    check_completion,
    part_size_for,
    parts_needed,
)
from sartiq_storage.core.policies import NO_STORE, presign_expiry
from sartiq_storage.core.sniff import ALLOWED_UPLOAD_TYPES, Sniffed, declared_type
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.core.validation import validate_key

_log = logging.getLogger(__name__)
MAX_UPLOAD_ID_CHARS = 1024


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """A started upload: what the client sends its parts to, and how big they should be."""

    upload_id: str
    storage_key: str
    file_url: str
    part_size: int
    max_parts: int
    max_file_size: int
    expires_in_seconds: int


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    storage_key: str
    file_url: str
    size: int
    etag: str | None


class MultipartUploadService:
    """Create, sign, list, complete and abort multipart uploads into ``temp/``."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        max_video_size: int = DEFAULT_MAX_VIDEO_BYTES,
        part_size: int = DEFAULT_PART_BYTES,
        require_size: bool = False,
    ) -> None:
        self.db = db
        self.store = store
        self.urls = urls
        self.max_video_size = max_video_size
        self.part_size = part_size
        self.require_size = require_size

    def cap_for(self, kind: Sniffed) -> int:
        """The largest upload of this kind: a video's own cap, an image's single-upload one."""
        return self.max_video_size if kind.resource_type == "VIDEO" else MAX_UPLOAD_BYTES

    # -- create --------------------------------------------------------------------------

    def create(
        self, filename: str, content_type: str, size: int | None, *, requester: str
    ) -> MultipartUpload:
        kind = declared_type(content_type)
        if kind is None:
            allowed = ", ".join(sorted(ALLOWED_UPLOAD_TYPES))
            raise InvalidMediaInputError(
                f"content type {content_type!r} is not accepted; use one of: {allowed}"
            )
        cap = self.cap_for(kind)
        if size is None and self.require_size:
            raise InvalidMediaInputError("size is required (strict uploads are switched on)")
        if size is not None and size <= 0:
            raise InvalidMediaInputError("size must be a positive number of bytes")
        if size is not None and size > cap:
            what = "a video" if kind.resource_type == "VIDEO" else f"an {kind.content_type} image"
            raise UploadTooLargeError(f"{size} bytes is over the {cap} byte limit for {what}")
        part_size = part_size_for(size if size is not None else cap, self.part_size)
        key = new_temp_upload_key(filename, content_type=kind.content_type).key
        upload_id = self.store.create_multipart(
            key, content_type=kind.content_type, cache_control=NO_STORE
        )
        now = utcnow()
        try:
            with self.db.session() as session:
                session.add(
                    UploadIntent(
                        storage_key=key,
                        filename=filename[:1024],
                        content_type=kind.content_type,
                        declared_size=size,
                        requester=requester[:255],
                        created_at=now,
                        expires_at=now + timedelta(seconds=MULTIPART_UPLOAD_SECONDS),
                    )
                )
        except BaseException:
            self._abort_quietly(key, upload_id)
            raise
        return MultipartUpload(
            upload_id=upload_id,
            storage_key=key,
            file_url=self.urls.public_url(key),
            part_size=part_size,
            max_parts=parts_needed(size, part_size) if size is not None else MAX_PARTS,
            max_file_size=cap,
            expires_in_seconds=MULTIPART_UPLOAD_SECONDS,
        )

    # -- the steps of an upload that exists ----------------------------------------------

    def _intent(self, key: str, upload_id: str, requester: str) -> UploadIntent:
        """The caller's live intent for ``key``, or the 4xx that says why there is none."""
        if not upload_id or len(upload_id) > MAX_UPLOAD_ID_CHARS:
            raise UploadNotFoundError("no such multipart upload")
        key = validate_key(key)
        if classify(key) is not Zone.temp:
            raise InvalidUploadError(f"{key!r} is not an upload key (uploads live under temp/)")
        with self.db.session() as session:
            intent = session.scalars(
                select(UploadIntent).where(UploadIntent.storage_key == key)
            ).one_or_none()
            if intent is not None:
                session.expunge(intent)
        if intent is None:
            raise UploadNotFoundError(f"no upload was started for {key!r}")
        if intent.requester != requester[:255]:
            raise UploadNotYoursError("this upload was started by another caller")
        if intent.claimed_at is not None or intent.expires_at <= utcnow():
            raise UploadNotFoundError(f"the upload to {key!r} is finished or has expired")
        return intent

    def _kind(self, intent: UploadIntent) -> Sniffed:
        kind = declared_type(intent.content_type)
        if kind is None:  # pragma: no cover - intents record accepted types only
            raise InvalidUploadError(f"content type {intent.content_type!r} is not accepted")
        return kind

    def _last_part_number(self, intent: UploadIntent) -> int:
        """The highest part number the upload can need: every part but the last is at least
        5 MiB, so a declared size bounds it; otherwise S3's 10,000."""
        limit = intent.declared_size or self.cap_for(self._kind(intent))
        return min(MAX_PARTS, parts_needed(limit, MIN_PART_BYTES))

    def sign_parts(
        self, key: str, upload_id: str, part_numbers: Sequence[int], *, requester: str
    ) -> dict[int, PresignedRequest]:
        """A PUT URL per part number; each URL lives as long as a part on a slow uplink."""
        intent = self._intent(key, upload_id, requester)
        last = self._last_part_number(intent)
        for number in part_numbers:
            if not 1 <= number <= last:
                raise InvalidUploadError(
                    f"part number {number} is out of range for this upload (1 to {last})"
                )
        self.store.list_parts(intent.storage_key, upload_id)  # the upload is there, to this key
        expires_in = presign_expiry(part_size_for(intent.declared_size, self.part_size))
        # The parts may add up to the declared size, else to the type's cap: where the
        # service is the part target, no URL can put more than that on its disk.
        total = intent.declared_size or self.cap_for(self._kind(intent))
        return {
            number: self.store.presign_upload_part(
                intent.storage_key, upload_id, number, expires_in=expires_in, max_total=total
            )
            for number in part_numbers
        }

    def list_parts(self, key: str, upload_id: str, *, requester: str) -> list[UploadedPart]:
        intent = self._intent(key, upload_id, requester)
        return self.store.list_parts(intent.storage_key, upload_id)

    def complete(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]], *, requester: str
    ) -> CompletedUpload:
        """Assemble the parts; a list the rules refuse aborts the upload (4xx, nothing kept)."""
        intent = self._intent(key, upload_id, requester)
        key = intent.storage_key
        stored = self.store.list_parts(key, upload_id)
        try:
            chosen = check_completion(parts, stored)
            total = sum(part.size for part in chosen)
            cap = self.cap_for(self._kind(intent))
            if total > cap:
                raise UploadTooLargeError(f"the parts add up to {total} bytes, over {cap}")
            if intent.declared_size is not None and total != intent.declared_size:
                raise InvalidUploadError(
                    f"the parts add up to {total} bytes; the upload declared {intent.declared_size}"
                )
            info: ObjectInfo = self.store.complete_multipart(key, upload_id, parts)
        except (InvalidUploadError, UploadTooLargeError):
            self._abort_quietly(key, upload_id)
            self._close_intent(key)
            raise
        return CompletedUpload(key, self.urls.public_url(key), info.size, info.etag)

    def abort(self, key: str, upload_id: str, *, requester: str) -> None:
        intent = self._intent(key, upload_id, requester)
        # The intent is the key's; the id must be its upload still in the store (not another
        # id, nor one completed): else 404, and the key's live upload stays untouched.
        self.store.list_parts(intent.storage_key, upload_id)
        self.store.abort_multipart(intent.storage_key, upload_id)
        self._close_intent(intent.storage_key)

    # -- housekeeping ----------------------------------------------------------------------

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        try:
            self.store.abort_multipart(key, upload_id)
        except StorageError:  # the lifecycle's day-old abort is the backstop
            _log.warning("aborting multipart upload %s of %s failed", upload_id, key)

    def _close_intent(self, key: str) -> None:
        """The upload is over: its intent no longer spares the key from the sweep."""
        with self.db.session() as session:
            intent = session.scalars(
                select(UploadIntent).where(UploadIntent.storage_key == key)
            ).one_or_none()
            if intent is not None:
                intent.expires_at = utcnow()
