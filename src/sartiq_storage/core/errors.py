"""The error types every layer raises, so interfaces can map them without guessing."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidKeyError(StorageError, ValueError):
    """An object key (or prefix) that no entry point may accept."""

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        shown = key if isinstance(key, str) and len(key) <= 120 else f"{str(key)[:117]}..."
        super().__init__(f"invalid key {shown!r}: {reason}")


class ObjectNotFoundError(StorageError, LookupError):
    """The object does not exist in the store."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"object not found: {key!r}")


class PreconditionFailedError(StorageError):
    """A conditional write lost: create-only on an existing key, or an ETag mismatch."""

    def __init__(self, key: str, reason: str = "object already exists") -> None:
        self.key = key
        super().__init__(f"precondition failed for {key!r}: {reason}")


class StoreUnavailableError(StorageError):
    """The store failed after retries (throttling, 5xx, connection trouble)."""


class ConfigurationError(StorageError):
    """Settings that cannot work together; raised at start, never mid-request."""


class MediaError(StorageError):
    """A media operation refused for a reason the caller can act on."""

    status_code = 422


class InvalidMediaInputError(MediaError, ValueError):
    """A request that is malformed (both or neither of url and media_resource_id…)."""

    status_code = 422


class UploadMissingError(MediaError):
    """The uploaded object is gone (expired, never finished, or already swept)."""

    status_code = 410


class UploadTooLargeError(MediaError):
    status_code = 413


class UnsupportedMediaError(MediaError):
    """The bytes are not an accepted image or video, whatever the client declared."""

    status_code = 415


class MediaNotFoundError(MediaError, LookupError):
    status_code = 404


class DecodersBusyError(MediaError):
    """Every image decoder of this process is busy (the decode cap is reached): retry."""

    status_code = 503
    retry_after = 2
    """Seconds, for the ``Retry-After`` header."""


class ConflictError(MediaError):
    """The operation lost a race it could not resolve by retrying."""

    status_code = 409
