"""The error types every layer raises, so interfaces can map them without guessing.

One hierarchy: every error this package raises on purpose is a :class:`StorageError`, its name
ends in ``Error``, and its class attribute ``status`` is the HTTP status an interface answers
with (``interfaces/http/errors.py`` reads it; no table of classes there). Errors that live
next to the code raising them (``core/signing.py``, ``core/tokens.py``, ``core/urls.py``,
``adapters/media_probe.py``…) subclass it too.
"""

from __future__ import annotations

import re
from typing import Self


class StorageError(Exception):
    """Base of every error this package raises on purpose."""

    status: int = 500
    """The HTTP status of the answer; 5xx ones are faults, logged with their cause."""
    retry_after: int | None = None
    """Seconds for a ``Retry-After`` header: a 5xx that sets it is "busy, come back", a
    refusal like any 4xx rather than a fault."""


class InvalidKeyError(StorageError, ValueError):
    """An object key (or prefix) that no entry point may accept."""

    status = 400

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        shown = key if isinstance(key, str) and len(key) <= 120 else f"{str(key)[:117]}..."
        super().__init__(f"invalid key {shown!r}: {reason}")


class ObjectNotFoundError(StorageError, LookupError):
    """The object does not exist in the store."""

    status = 404

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"object not found: {key!r}")


class PreconditionFailedError(StorageError):
    """A conditional write lost: create-only on an existing key, or an ETag mismatch."""

    status = 412

    def __init__(
        self, key: str = "", reason: str = "object already exists", *, message: str = ""
    ) -> None:
        self.key = key
        super().__init__(message or f"precondition failed for {key!r}: {reason}")


class StoreUnavailableError(StorageError):
    """The store failed after retries (throttling, 5xx, connection trouble).

    ``str()`` is one short line safe to show any caller: no endpoint, bucket or client dump
    (obstore's errors are kilobytes of Rust debug output naming both). The full text is kept
    in :attr:`cause` for the server's log and for the adapters' retry decisions.
    """

    status = 503

    def __init__(self, reason: str = "request failed", *, cause: str | None = None) -> None:
        self.reason = reason
        self.cause = cause if cause is not None else reason
        super().__init__(f"object store unavailable: {reason}")

    @classmethod
    def from_cause(cls, cause: BaseException | str, action: str | None = None) -> Self:
        """The error for a client failure, its reason reduced to what a caller may see."""
        text = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        reason = store_failure_reason(text)
        return cls(f"{action}: {reason}" if action else reason, cause=text)


class BucketNotFoundError(StoreUnavailableError):
    """The store's bucket does not exist (S3's ``NoSuchBucket``): a settings mistake, not a
    missing object; a repository's namespace in such a bucket is refused (400)."""


_STORE_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"connection refused", "connection refused"),
        (
            r"ConnectError|Connect(ion)?Error|error trying to connect|could not connect",
            "could not connect",
        ),
        (
            r"dns error|lookup address|name or service not known|nodename|getaddrinfo",
            "host name not resolved",
        ),
        (r"timed out|\btime ?out\b", "timed out"),  # not obstore's "retry_timeout: 180s"
        (
            r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|UnrecognizedClient"
            r"|InvalidSignatureException|status(?: code)?:? 403\b",
            "access denied (check the credentials)",
        ),
        (r"NoCredentialsError|Unable to locate credentials", "no credentials found"),
        (r"NoSuchBucket", "bucket not found"),
        (r"SlowDown|TooManyRequests|status(?: code)?:? 429\b", "throttled"),
        (r"connection (reset|closed)|broken pipe|IncompleteBody", "connection lost"),
    )
)
_STATUS = re.compile(r"(?:status(?: code)?|HTTP)[:= ]+([45]\d\d)\b", re.IGNORECASE)
"""obstore: "status code: 503", "status: 503"; boto3, as the S3 adapter words it: "HTTP 503"."""


def store_failure_reason(text: str) -> str:
    """A short, safe reason for a store client's failure text ("connection refused",
    "timed out", "HTTP 503"…), never the text itself."""
    for pattern, reason in _STORE_FAILURES:
        if pattern.search(text):
            return reason
    status = _STATUS.search(text)
    if status is not None:
        return f"HTTP {status.group(1)}"
    return "request failed"


class ConfigurationError(StorageError):
    """Settings that cannot work together; raised at start, never mid-request."""


class MediaError(StorageError):
    """A media operation refused for a reason the caller can act on."""

    status = 422


class InvalidMediaInputError(MediaError, ValueError):
    """A request that is malformed (both or neither of url and media_resource_id…)."""

    status = 422


class UploadMissingError(MediaError):
    """The uploaded object is gone (expired, never finished, or already swept)."""

    status = 410


class UploadTooLargeError(MediaError):
    status = 413


class UnsupportedMediaError(MediaError):
    """The bytes are not an accepted image or video, whatever the client declared."""

    status = 415


class MediaNotFoundError(MediaError, LookupError):
    status = 404


class DecodersBusyError(MediaError):
    """Every image decoder of this process is busy (the decode cap is reached): retry."""

    status = 503
    retry_after = 2
    """Seconds, for the ``Retry-After`` header."""


class ConflictError(MediaError):
    """The operation lost a race it could not resolve by retrying."""

    status = 409


class UploadNotFoundError(StorageError, LookupError):
    """A multipart upload that does not exist (never made, completed, aborted or expired)."""

    status = 404


class UploadNotYoursError(StorageError):
    """A multipart upload another caller started: only its requester may continue it."""

    status = 403


class InvalidUploadError(StorageError, ValueError):
    """A multipart request the store cannot honour as given: a part number out of range,
    parts listed out of order or twice, an ETag that is not the uploaded part's."""

    status = 400
