"""lakeFS's answers as our errors: one status (and, for 400/403/409, its wording) → one type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from lakefs_sdk.exceptions import ApiException

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.errors import StorageError


class AuthenticationFailedError(e.DatasetError):
    """lakeFS refused the access key pair."""

    status = 401


def _message(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            return str(parsed["message"])
        return body
    return str(exc.reason or f"HTTP {exc.status}")


def map_error(exc: ApiException) -> StorageError:
    """One lakeFS status (and, for 400/403/409, its wording) → one of our error types."""
    message = _message(exc)
    low = message.lower()
    status = exc.status or 0
    if status == 400:
        if "dirty branch" in low:
            return e.DirtyBranchError(message)
        if "no changes" in low:
            return e.NoChangesError(message)
        if "invalid ref" in low or "ref: invalid" in low:
            return e.InvalidRefError(message)
        if "invalid name" in low or "id: invalid" in low or "name: invalid" in low:
            return e.InvalidNameError(message)
        return e.InvalidArgumentError(message)
    if status == 401:
        return AuthenticationFailedError(message)
    if status == 403:
        if "read-only" in low or "read only" in low:
            return e.ReadOnlyRepositoryError(message)
        return e.ProtectedBranchError(message)
    if status == 404:
        return e.NotFoundError(message)
    if status == 409:
        if "conflict" in low and "exists" not in low:
            return e.MergeConflictError([])
        return e.AlreadyExistsError(message)
    if status == 410:
        return e.GoneError(message)
    if status == 412:
        return e.PreconditionFailedError(message=message)
    if status == 429:
        return e.TooManyRetriesError(message)
    error = e.DatasetError(f"lakeFS answered {status}: {message}")
    error.status = status or 502
    return error


@contextmanager
def mapped() -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise map_error(exc) from None
