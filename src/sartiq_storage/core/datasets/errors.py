"""Dataset errors, one class per lakeFS status so every interface maps them the same way.

Every name ends in ``Error`` and carries ``status`` (the HTTP status), as the rest of the
package's errors do.
"""

from __future__ import annotations

from collections.abc import Sequence

from sartiq_storage.core.errors import PreconditionFailedError as PreconditionFailedError
from sartiq_storage.core.errors import StorageError

DATASET_ERRORS: tuple[type[StorageError], ...]
"""Filled below: every error a dataset operation raises on purpose (the lakeFS answers map
them), :class:`DatasetError`'s family plus the store's one precondition error, which a hook
refusal or a create-only write on a taken path raises as every store does."""


class DatasetError(StorageError):
    """Base of the dataset errors; ``status`` is the HTTP status lakeFS answers with."""

    status = 500


class NotFoundError(DatasetError, LookupError):
    """A repository, branch, tag, ref or object that does not exist."""

    status = 404


class AlreadyExistsError(DatasetError):
    """The name is taken (repository, branch or tag)."""

    status = 409


class MergeConflictError(DatasetError):
    """A merge found conflicting paths; ``paths`` lists every one of them (sorted)."""

    status = 409

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        shown = ", ".join(self.paths[:5]) + (" …" if len(self.paths) > 5 else "")
        super().__init__(f"merge conflict on {len(self.paths)} path(s): {shown}")


class DirtyBranchError(DatasetError):
    """The branch has uncommitted changes and the operation needs a clean one."""

    status = 400


class NoChangesError(DatasetError):
    """Nothing to commit or merge (and ``allow_empty`` was not given)."""

    status = 400


class InvalidRefError(DatasetError, ValueError):
    """A ref expression that cannot be parsed or resolved ambiguously."""

    status = 400


class InvalidNameError(DatasetError, ValueError):
    """A repository, branch or tag name that breaks lakeFS's naming rules."""

    status = 400


class InvalidArgumentError(DatasetError, ValueError):
    """Any other bad value (strategy, parent number, path…)."""

    status = 400


class ProtectedBranchError(DatasetError):
    """A write, commit or reset on a protected branch, or deleting the default branch."""

    status = 403


class ReadOnlyRepositoryError(DatasetError):
    status = 403


class GoneError(DatasetError):
    """The object's bytes were removed by garbage collection."""

    status = 410


class TooManyRetriesError(DatasetError):
    """A branch update kept losing its compare-and-set."""

    status = 429


class NotSupportedError(DatasetError):
    """An operation this engine's store cannot do (pre-signed multipart on the embedded
    backend; pre-signing on an upstream lakeFS): lakeFS answers 501."""

    status = 501


DATASET_ERRORS = (DatasetError, PreconditionFailedError)
