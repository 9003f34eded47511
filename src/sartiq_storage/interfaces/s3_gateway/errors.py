"""S3's error answers: an XML ``<Error>`` with S3's code, so clients react as they do to S3.

Dataset errors map by kind (lakeFS's gateway codes where it has its own:
``ErrWriteToProtectedBranch``, ``ErrReadOnlyRepository``).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from sartiq_storage.core.datasets.errors import (
    DatasetError,
    GoneError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidRefError,
    NotFoundError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
    TooManyRetriesError,
)
from sartiq_storage.core.errors import PreconditionFailedError, StorageError


class S3Error(Exception):
    """An answer in S3's error format: ``code`` (``NoSuchKey``…), message and status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        resource: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.code = code
        self.message = message
        self.status = status
        self.resource = resource

    def body(self, request_id: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<Resource>{escape(self.resource)}</Resource>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()


def no_such_key(resource: str) -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, resource=resource)


def no_such_bucket(resource: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, resource=resource)


def from_dataset_error(exc: StorageError, *, resource: str, missing: str = "NoSuchKey") -> S3Error:
    """The S3 error for an engine error; ``missing``: the code of a 404 here (``NoSuchKey``
    for an object, ``NoSuchBucket`` for a repository or ref)."""
    message = str(exc)
    if isinstance(exc, NotFoundError):
        if missing == "NoSuchBucket":
            return no_such_bucket(resource)
        return no_such_key(resource)
    if isinstance(exc, ProtectedBranchError):
        return S3Error("ErrWriteToProtectedBranch", message, 403, resource=resource)
    if isinstance(exc, ReadOnlyRepositoryError):
        return S3Error("ErrReadOnlyRepository", message, 403, resource=resource)
    if isinstance(exc, PreconditionFailedError):
        return S3Error(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
            resource=resource,
        )
    if isinstance(exc, GoneError):
        return S3Error("NoSuchKey", message, 404, resource=resource)
    if isinstance(exc, InvalidRefError):
        return no_such_bucket(resource)
    if isinstance(exc, InvalidNameError | InvalidArgumentError):
        return S3Error("InvalidArgument", message, 400, resource=resource)
    if isinstance(exc, TooManyRetriesError):
        return S3Error("SlowDown", "Please reduce your request rate.", 503, resource=resource)
    if isinstance(exc, DatasetError) and 400 <= exc.status < 500:
        return S3Error("InvalidRequest", message, exc.status, resource=resource)
    return S3Error("InternalError", "We encountered an internal error. Please try again.", 500)
