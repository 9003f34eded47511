"""Object stores, the public surface: one protocol, three backends, one factory.

``open_store(settings)`` returns the store the settings choose (local disk, memory, or any
S3-compatible bucket: R2, MinIO, SeaweedFS, AWS); everything else takes an ``ObjectStore``.
This module sits above the layers on purpose (it may import any of them).
"""

from __future__ import annotations

from sartiq_storage.adapters.stores import (
    DeleteFailure,
    LocalStore,
    MemoryStore,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    PresignedRequest,
    PutResult,
    S3Store,
    md5_from_etag,
    open_store,
    signer_for,
)
from sartiq_storage.core.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
    StoreUnavailableError,
)
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.validation import validate_key, validate_prefix

__all__ = [
    "DeleteFailure",
    "InvalidKeyError",
    "LocalStore",
    "MemoryStore",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectStream",
    "PreconditionFailedError",
    "PresignedRequest",
    "PutResult",
    "S3Store",
    "StorageError",
    "StoreUnavailableError",
    "UrlSigner",
    "md5_from_etag",
    "open_store",
    "signer_for",
    "validate_key",
    "validate_prefix",
]
