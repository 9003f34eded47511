"""lakeFS's statuses and wording → our typed errors (what the real-lakeFS mode relies on)."""

from __future__ import annotations

import json

import pytest
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.adapters.lakefs_engine import AuthenticationFailed, map_error
from sartiq_storage.core.datasets import errors as e


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "main: uncommitted changes (dirty branch)", e.DirtyBranch),
        (400, "commit: no changes", e.NoChanges),
        (400, "invalid ref: main~x", e.InvalidRef),
        (400, "branch id: invalid value", e.InvalidName),
        (400, "bad strategy", e.InvalidArgument),
        (401, "error authenticating request", AuthenticationFailed),
        (403, "access to protected branch denied", e.ProtectedBranch),
        (403, "cannot write to protected branch", e.ProtectedBranch),
        (409, "tag already exists: 'v1'", e.AlreadyExists),
        (403, "read-only repository", e.ReadOnlyRepository),
        (404, "not found", e.NotFound),
        (409, "branch already exists", e.AlreadyExists),
        (409, "conflict found", e.MergeConflict),
        (410, "object expired", e.Gone),
        (412, "pre-merge hook failed", e.PreconditionFailed),
        (429, "too many tries", e.TooManyRetries),
    ],
)
def test_statuses_and_wording(status: int, message: str, expected: type[e.DatasetError]) -> None:
    exc = ApiException(status=status, reason="r")
    exc.body = json.dumps({"message": message})
    mapped = map_error(exc)
    assert type(mapped) is expected
    assert mapped.status == status
