"""lakeFS's statuses and wording → our typed errors (what the real-lakeFS mode relies on)."""

from __future__ import annotations

import json

import pytest
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.adapters.datasets.lakefs import AuthenticationFailedError, map_error
from sartiq_storage.core.datasets import errors as e


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "main: uncommitted changes (dirty branch)", e.DirtyBranchError),
        (400, "commit: no changes", e.NoChangesError),
        (400, "invalid ref: main~x", e.InvalidRefError),
        (400, "branch id: invalid value", e.InvalidNameError),
        (400, "bad strategy", e.InvalidArgumentError),
        (401, "error authenticating request", AuthenticationFailedError),
        (403, "access to protected branch denied", e.ProtectedBranchError),
        (403, "cannot write to protected branch", e.ProtectedBranchError),
        (409, "tag already exists: 'v1'", e.AlreadyExistsError),
        (403, "read-only repository", e.ReadOnlyRepositoryError),
        (404, "not found", e.NotFoundError),
        (409, "branch already exists", e.AlreadyExistsError),
        (409, "conflict found", e.MergeConflictError),
        (410, "object expired", e.GoneError),
        (412, "pre-merge hook failed", e.PreconditionFailedError),
        (429, "too many tries", e.TooManyRetriesError),
    ],
)
def test_statuses_and_wording(status: int, message: str, expected: type[e.DatasetError]) -> None:
    exc = ApiException(status=status, reason="r")
    exc.body = json.dumps({"message": message})
    mapped = map_error(exc)
    assert type(mapped) is expected
    assert mapped.status == status
