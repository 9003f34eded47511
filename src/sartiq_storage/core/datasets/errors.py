"""Dataset errors, one class per lakeFS status so every interface maps them the same way."""

from __future__ import annotations

from collections.abc import Sequence

from sartiq_storage.core.errors import StorageError


class DatasetError(StorageError):
    """Base of the dataset errors; ``status`` is the HTTP status lakeFS answers with."""

    status = 500


class NotFound(DatasetError, LookupError):
    """A repository, branch, tag, ref or object that does not exist."""

    status = 404


class AlreadyExists(DatasetError):
    """The name is taken (repository, branch or tag)."""

    status = 409


class MergeConflict(DatasetError):
    """A merge found conflicting paths; ``paths`` lists every one of them (sorted)."""

    status = 409

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        shown = ", ".join(self.paths[:5]) + (" …" if len(self.paths) > 5 else "")
        super().__init__(f"merge conflict on {len(self.paths)} path(s): {shown}")


class DirtyBranch(DatasetError):
    """The branch has uncommitted changes and the operation needs a clean one."""

    status = 400


class NoChanges(DatasetError):
    """Nothing to commit or merge (and ``allow_empty`` was not given)."""

    status = 400


class InvalidRef(DatasetError, ValueError):
    """A ref expression that cannot be parsed or resolved ambiguously."""

    status = 400


class InvalidName(DatasetError, ValueError):
    """A repository, branch or tag name that breaks lakeFS's naming rules."""

    status = 400


class InvalidArgument(DatasetError, ValueError):
    """Any other bad value (strategy, parent number, path…)."""

    status = 400


class ProtectedBranch(DatasetError):
    """A write, commit or reset on a protected branch, or deleting the default branch."""

    status = 403


class ReadOnlyRepository(DatasetError):
    status = 403


class PreconditionFailed(DatasetError):
    """A hook refused the operation, or a create-only write found the path taken."""

    status = 412


class Gone(DatasetError):
    """The object's bytes were removed by garbage collection."""

    status = 410


class TooManyRetries(DatasetError):
    """A branch update kept losing its compare-and-set."""

    status = 429
