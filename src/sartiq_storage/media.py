"""Media, the public surface: what the Backend and the Compute Server call in-process.

``build_context(settings).media`` is a wired :class:`MediaResourceService` (ingest, attach,
detach, delete); ``.uploads`` presigns browser uploads, ``.compute`` keeps the Compute
Server's results, ``.urls`` turns keys into public URLs and back. Keys are built and parsed
here too (``docs/keys.md``), and every error a caller may catch is named. This module sits
above the layers on purpose (it may import any of them; none of them imports it).
"""

from __future__ import annotations

from sartiq_storage.adapters.db.models import (
    MediaDeletionDeadLetter,
    MediaResource,
    MediaResourceAttachment,
    ResourceType,
    Tag,
)
from sartiq_storage.core.errors import (
    ConflictError,
    DecodersBusyError,
    InvalidKeyError,
    InvalidMediaInputError,
    MediaError,
    MediaNotFoundError,
    StorageError,
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.filenames import safe_filename
from sartiq_storage.core.keys import (
    ComputeResultKey,
    MediaKey,
    ParsedKey,
    Retention,
    TempUploadKey,
    Zone,
    classify,
    new_media_key,
    new_temp_upload_key,
    parse_key,
    retention_for,
)
from sartiq_storage.core.urls import ForeignUrlError, UrlResolver, public_base_for
from sartiq_storage.core.validation import validate_key
from sartiq_storage.services.compute import ComputeStorage, StoredImage
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.media.service import (
    AttachTo,
    IngestResult,
    MediaInput,
    MediaResourceService,
)
from sartiq_storage.services.tags import TagService
from sartiq_storage.services.uploads import PresignedUpload, UploadService

__all__ = [
    "AttachTo",
    "ComputeResultKey",
    "ComputeStorage",
    "ConflictError",
    "DecodersBusyError",
    "ForeignUrlError",
    "IngestResult",
    "InvalidKeyError",
    "InvalidMediaInputError",
    "MediaDeletionDeadLetter",
    "MediaError",
    "MediaInput",
    "MediaKey",
    "MediaNotFoundError",
    "MediaResource",
    "MediaResourceAttachment",
    "MediaResourceService",
    "ParsedKey",
    "PresignedUpload",
    "ResourceType",
    "Retention",
    "StorageContext",
    "StorageError",
    "StoredImage",
    "Tag",
    "TagService",
    "TempUploadKey",
    "UnsupportedMediaError",
    "UploadMissingError",
    "UploadService",
    "UploadTooLargeError",
    "UrlResolver",
    "Zone",
    "build_context",
    "classify",
    "new_media_key",
    "new_temp_upload_key",
    "parse_key",
    "public_base_for",
    "retention_for",
    "safe_filename",
    "validate_key",
]
