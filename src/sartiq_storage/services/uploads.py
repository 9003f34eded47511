"""Presigned uploads: a URL the browser PUTs to, and a recorded intent for each one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.group_commit import GroupCommitter
from sartiq_storage.adapters.db.models import UploadIntent, utcnow
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import InvalidMediaInputError, UploadTooLargeError
from sartiq_storage.core.keys import new_temp_upload_key
from sartiq_storage.core.policies import presign_expiry
from sartiq_storage.core.sniff import ALLOWED_UPLOAD_TYPES, declared_type
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints

INTENTS_FAILPOINT = "uploads.intents_group"
"""Before a group of intents is committed: inside its transaction after the insert (SQLite),
before its one autocommitted ``INSERT`` is sent (PostgreSQL)."""


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    upload_url: str
    file_url: str
    upload_method: str
    upload_headers: dict[str, str]
    expires_in_seconds: int
    max_file_size: int
    storage_key: str


class UploadService:
    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        max_file_size: int = MAX_UPLOAD_BYTES,
        require_size: bool = False,
        write_once: bool = True,
    ) -> None:
        self.db = db
        self.store = store
        self.urls = urls
        self.max_file_size = max_file_size
        self.require_size = require_size
        self.write_once = write_once
        self.intents = GroupCommitter(
            db,
            UploadIntent.__table__,  # type: ignore[arg-type]
            before_commit=lambda _rows: failpoints.hit(INTENTS_FAILPOINT),
        )
        """Concurrent presigns' intents, committed a group per transaction; each call
        answers only once its own row is durable."""

    def close(self) -> None:
        self.intents.close()

    def presign(
        self, filename: str, content_type: str, size: int | None, *, requester: str
    ) -> PresignedUpload:
        """A URL to PUT one file into ``temp/``, bound to its type (and size when declared);
        answers once its intent is durable."""
        upload, intent = self.prepare(filename, content_type, size, requester=requester)
        self.intents.insert(intent)
        return upload

    async def presign_async(
        self, filename: str, content_type: str, size: int | None, *, requester: str
    ) -> PresignedUpload:
        """:meth:`presign` for an event loop: signing is pure computation, and the intent's
        group commit is awaited, with no worker thread held per caller."""
        upload, intent = self.prepare(filename, content_type, size, requester=requester)
        await self.intents.insert_async(intent)
        return upload

    def prepare(
        self, filename: str, content_type: str, size: int | None, *, requester: str
    ) -> tuple[PresignedUpload, dict[str, Any]]:
        """The signed upload and its intent row, not yet recorded; refusals raise here,
        before anything is written."""
        kind = declared_type(content_type)
        if kind is None:
            allowed = ", ".join(sorted(ALLOWED_UPLOAD_TYPES))
            raise InvalidMediaInputError(
                f"content type {content_type!r} is not accepted; use one of: {allowed}"
            )
        if size is None and self.require_size:
            raise InvalidMediaInputError("size is required (strict uploads are switched on)")
        if size is not None and size > self.max_file_size:
            raise UploadTooLargeError(
                f"{size} bytes is over the {self.max_file_size} byte upload limit"
            )
        if size is not None and size <= 0:
            raise InvalidMediaInputError("size must be a positive number of bytes")
        key = new_temp_upload_key(filename, content_type=kind.content_type).key
        expires_in = presign_expiry(size)
        request = self.store.presign_put(
            key,
            content_type=kind.content_type,
            content_length=size,
            expires_in=expires_in,
            if_absent=self.write_once,
        )
        now = utcnow()
        intent = {
            "storage_key": key,
            "filename": filename[:1024],
            "content_type": kind.content_type,
            "declared_size": size,
            "requester": requester[:255],
            "created_at": now,
            "expires_at": now + timedelta(seconds=expires_in),
        }
        upload = PresignedUpload(
            upload_url=request.url,
            file_url=self.urls.public_url_of_valid(key),  # validated as it was built
            upload_method="PUT",
            upload_headers=request.headers,
            expires_in_seconds=expires_in,
            max_file_size=self.max_file_size,
            storage_key=key,
        )
        return upload, intent
