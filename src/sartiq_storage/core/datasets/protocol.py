"""The one interface both dataset engines implement: the native one and a real lakeFS.

Names follow lakeFS and its high-level SDK. Every method raises only the errors of
:mod:`sartiq_storage.core.datasets.errors`. ``ref`` arguments accept any ref expression
(branch, tag, commit id or unique prefix of at least 6 hex digits, with ``~N``, ``^N`` and a
trailing ``@`` for "committed state only"); ``branch`` arguments take a branch name only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO, Literal, Protocol

from sartiq_storage.core.datasets.model import (
    Branch,
    Commit,
    DiffEntry,
    Entry,
    GcReport,
    GcRules,
    Listing,
    MergeStrategy,
    OpenObject,
    ReflogEntry,
    Repository,
    Tag,
)

Data = bytes | BinaryIO | Iterable[bytes]
ResetType = Literal["object", "common_prefix", "reset"]
DiffMode = Literal["three_dot", "two_dot"]


class RepositoryApi(Protocol):
    """Repositories and their administration (import, GC rules, branch protection)."""

    def create_repository(
        self,
        name: str,
        storage_namespace: str,
        *,
        default_branch: str = "main",
        read_only: bool = False,
        committer: str = "sartiq-storage",
    ) -> Repository:
        """Make the repository, its default branch and the "Repository created" commit."""

    def get_repository(self, name: str) -> Repository: ...
    def list_repositories(self, *, after: str = "", amount: int = 100) -> list[Repository]: ...
    def delete_repository(self, name: str) -> None: ...

    def import_prefix(
        self,
        repo: str,
        branch: str,
        source: str,
        destination: str,
        *,
        message: str,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        """Zero-copy: entries under ``destination`` point at the source objects, then commit."""

    def get_gc_rules(self, repo: str) -> GcRules: ...
    def set_gc_rules(self, repo: str, rules: GcRules) -> None: ...
    def gc(self, repo: str, *, dry_run: bool = True, grace_seconds: int = 6 * 3600) -> GcReport: ...
    def get_branch_protection(self, repo: str) -> list[str]: ...
    def set_branch_protection(
        self, repo: str, patterns: Sequence[str], *, expected: Sequence[str] | None = None
    ) -> None:
        """Replace the rules; with ``expected``, only if the rules are still those (one
        compare-and-set, else :class:`PreconditionFailedError`), as lakeFS's ``If-Match``."""


class RefApi(Protocol):
    """Branches and tags: the names that point at commits."""

    def create_branch(
        self, repo: str, name: str, source_ref: str, *, hidden: bool = False
    ) -> Branch:
        """O(1): a pointer to ``source_ref``'s commit and an empty staging area; a hidden
        branch is left out of listings unless ``show_hidden``."""

    def get_branch(self, repo: str, name: str) -> Branch: ...
    def list_branches(
        self,
        repo: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> list[Branch]: ...
    def delete_branch(self, repo: str, name: str) -> None:
        """The default branch cannot be deleted (ProtectedBranchError)."""

    def reset_changes(
        self, repo: str, branch: str, type: ResetType = "reset", path: str | None = None
    ) -> None:
        """Discard uncommitted changes: one object, a prefix, or everything."""

    def hard_reset(
        self, repo: str, branch: str, ref: str, *, force: bool = False, actor: str = ""
    ) -> Branch:
        """Move the branch to ``ref`` (the branch must be clean unless ``force``).

        Recorded in the branch's reflog so the rollback itself can be undone.
        """

    def reflog(self, repo: str, branch: str) -> list[ReflogEntry]: ...

    # -- tags ----------------------------------------------------------------------------
    def create_tag(self, repo: str, name: str, ref: str, *, force: bool = False) -> Tag: ...
    def get_tag(self, repo: str, name: str) -> Tag: ...
    def list_tags(
        self, repo: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Tag]: ...
    def delete_tag(self, repo: str, name: str) -> None: ...


class ObjectApi(Protocol):
    """Objects on a branch (writes) or at any ref (reads)."""

    def put_object(
        self,
        repo: str,
        branch: str,
        path: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        if_match: Sequence[str] | None = None,
    ) -> Entry:
        """Stage an object (bytes stored content-addressed first, then the entry). With
        ``if_absent``, only if the path is free; with ``if_match`` (ETags, ``*`` any), only if
        the object there has one of them; else :class:`PreconditionFailedError`."""

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        """Stage a delete; a path absent at the branch is NotFoundError."""

    def delete_objects(self, repo: str, branch: str, paths: Sequence[str]) -> list[str]:
        """Stage many deletes; returns the paths that were not found."""

    def stat_object(self, repo: str, ref: str, path: str) -> Entry: ...
    def get_object(
        self, repo: str, ref: str, path: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """The bytes, or the range ``[start, end)``; GoneError when GC collected them."""

    def open_object(self, repo: str, ref: str, path: str) -> OpenObject:
        """The entry at ``ref`` and a reader of exactly its bytes: one lookup for a stat
        and a read (a write to the path in between cannot pair one entry's headers with
        another's bytes)."""

    def list_objects(
        self,
        repo: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Listing: ...
    def copy_object(
        self, repo: str, branch: str, src_path: str, dest_path: str, *, src_ref: str | None = None
    ) -> Entry:
        """Metadata-only copy: the new entry points at the same bytes."""


class VersionApi(Protocol):
    """Commits, history, diffs, merges and ref resolution."""

    def commit(
        self,
        repo: str,
        branch: str,
        message: str,
        *,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        allow_empty: bool = False,
        date: int | None = None,
    ) -> Commit: ...
    def get_commit(self, repo: str, commit_id: str) -> Commit: ...
    def log(
        self,
        repo: str,
        ref: str,
        *,
        amount: int = 100,
        after: str = "",
        objects: Sequence[str] = (),
        prefixes: Sequence[str] = (),
        first_parent: bool = False,
    ) -> list[Commit]:
        """Newest first; with objects/prefixes only commits that changed them."""

    def diff(
        self,
        repo: str,
        left_ref: str,
        right_ref: str,
        *,
        mode: DiffMode = "three_dot",
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> list[DiffEntry]: ...
    def diff_uncommitted(
        self,
        repo: str,
        branch: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 1000,
        delimiter: str = "",
    ) -> list[DiffEntry]: ...
    def merge_base(self, repo: str, left_ref: str, right_ref: str) -> Commit: ...
    def merge(
        self,
        repo: str,
        source_ref: str,
        dest_branch: str,
        *,
        message: str | None = None,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        strategy: MergeStrategy | None = None,
        resolutions: Mapping[str, Literal["source", "dest"]] | None = None,
        allow_empty: bool = False,
        force: bool = False,
        squash: bool = False,
    ) -> Commit:
        """Three-way merge; MergeConflictError lists every conflicting path."""

    def revert(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        allow_empty: bool = False,
        force: bool = False,
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Commit: ...
    def cherry_pick(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
    ) -> Commit:
        """``ref``'s changes against its parent, as one new commit on ``branch``."""

    def resolve(self, repo: str, ref: str) -> str:
        """The commit id a ref expression names."""


class DatasetStore(RepositoryApi, RefApi, ObjectApi, VersionApi, Protocol):
    """The whole lakeFS surface, in four parts a caller can also ask for alone."""
