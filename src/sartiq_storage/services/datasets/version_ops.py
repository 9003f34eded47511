"""The engine's version operations: commit, log, diff, merge, revert, cherry-pick, import.

Each is a few calls on the managers: the commit graph for history and merge bases,
:mod:`~.tree_merge` for three-way merges and diffs, the committer to move the head.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from sartiq_storage.core.datasets.errors import DirtyBranchError, InvalidArgumentError
from sartiq_storage.core.datasets.model import Commit, DiffEntry, MergeStrategy
from sartiq_storage.core.datasets.ranges import RangeInfo
from sartiq_storage.services.datasets.committed import Change
from sartiq_storage.services.datasets.engine_base import EngineParts
from sartiq_storage.services.datasets.records import RepoRecord
from sartiq_storage.services.datasets.tree_merge import (
    DiffMode,
    diff_rows,
    page,
    prefix_within,
    three_way,
)

MERGE_STRATEGY_KEY = ".lakefs.merge.strategy"


class VersionOperations(EngineParts):
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
    ) -> Commit:
        r = self._writable_repo(repo)
        self.repos.check_unprotected(r, branch)
        with self.branches.lock(r, branch):
            return self.committer.commit_staged(
                r, branch, message, committer, metadata, allow_empty, date
            )

    def get_commit(self, repo: str, commit_id: str) -> Commit:
        return self.refs.commit(self.repos.get(repo), commit_id)

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
        """Newest first (by generation, then date); see :meth:`CommitGraph.log`."""
        r = self.repos.get(repo)
        start, _b, _e = self.refs.resolve(r, ref)
        return self.graph.log(
            r,
            start,
            amount=amount,
            after=after,
            objects=objects,
            prefixes=prefixes,
            first_parent=first_parent,
        )

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
    ) -> list[DiffEntry]:
        r = self.repos.get(repo)
        left, _lb, _le = self.refs.resolve(r, left_ref)
        right, _rb, _re = self.refs.resolve(r, right_ref)
        if mode not in ("three_dot", "two_dot"):
            raise InvalidArgumentError(f"unknown diff mode {mode!r}")
        base = self.graph.merge_base(r, left, right) if mode == "three_dot" else None
        rows = diff_rows(
            self.committed,
            r.namespace_key,
            left.meta_range_id,
            right.meta_range_id,
            mode=mode,
            base_tree=None if base is None else base.meta_range_id,
            within=prefix_within([prefix], []) if prefix else None,
        )
        return page(rows, prefix=prefix, delimiter=delimiter, after=after, amount=amount)

    def diff_uncommitted(
        self,
        repo: str,
        branch: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 1000,
        delimiter: str = "",
    ) -> list[DiffEntry]:
        r = self.repos.get(repo)
        record, _raw = self.branches.get(r, branch)
        rows: Iterator[DiffEntry] = self.views.effective_staged(r, record)
        return page(rows, prefix=prefix, delimiter=delimiter, after=after, amount=amount)

    def merge_base(self, repo: str, left_ref: str, right_ref: str) -> Commit:
        r = self.repos.get(repo)
        left, _lb, _le = self.refs.resolve(r, left_ref)
        right, _rb, _re = self.refs.resolve(r, right_ref)
        return self.graph.merge_base(r, left, right)

    def _clean_branch(self, r: RepoRecord, branch: str) -> None:
        record, _raw = self.branches.get(r, branch)
        if self.views.is_dirty(r, record):
            raise DirtyBranchError(f"branch {branch!r} has uncommitted changes")

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
        """Allowed on protected branches, as in lakeFS; the destination must be clean."""
        if strategy not in (None, "source-wins", "dest-wins"):
            raise InvalidArgumentError(f"invalid merge strategy {strategy!r}")
        for side in (resolutions or {}).values():
            if side not in ("source", "dest"):
                raise InvalidArgumentError(f"invalid resolution {side!r}")
        r = self._writable_repo(repo)
        source, _sb, _se = self.refs.resolve(r, source_ref)
        self._clean_branch(r, dest_branch)
        meta = dict(metadata or {})
        if strategy:
            meta[MERGE_STRATEGY_KEY] = strategy

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            base = self.graph.merge_base(r, head, source)
            changes = three_way(
                self.committed,
                r.namespace_key,
                base.meta_range_id,
                source.meta_range_id,
                head.meta_range_id,
                strategy,
                resolutions or {},
            )
            # lakeFS: "no changes" only when the source's tree is the merge base's; a source
            # whose changes the destination already has still gets its merge commit.
            nothing = base.id == source.id or base.meta_range_id == source.meta_range_id
            return changes, [] if squash else [source.id], nothing

        return self.committer.commit_tree(
            r,
            dest_branch,
            build,
            message=message or f"Merge '{source_ref}' into '{dest_branch}'",
            committer=committer,
            metadata=meta,
            allow_empty=allow_empty or force,
            same_tree_is_empty=False,
        )

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
    ) -> Commit:
        """Merge ``ref``'s parent into the head, ``ref`` as base (allowed when protected);
        ``message``/``metadata`` replace the defaults (lakeFS's ``commit_overrides``)."""
        r = self._writable_repo(repo)
        target, _b, _e = self.refs.resolve(r, ref)
        parent = self._pick_parent(r, ref, target, parent_number)
        if force:
            self.branches.get(r, branch)
        else:
            self._clean_branch(r, branch)

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes = three_way(
                self.committed,
                r.namespace_key,
                target.meta_range_id,
                parent.meta_range_id,
                head.meta_range_id,
                None,
                {},
            )
            return changes, [], False

        return self.committer.commit_tree(
            r,
            branch,
            build,
            message=message or f"Revert {target.id}",
            committer=committer,
            metadata=metadata or {},
            allow_empty=allow_empty,
        )

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
        """Apply ``ref``'s changes (against its parent) onto the branch as one new commit with
        ``ref``'s message and metadata, as lakeFS's cherry-pick does (the destination must be
        clean, and may be protected, like merge and revert; a commit that changed nothing is
        "no changes" unless ``force``)."""
        r = self._writable_repo(repo)
        target, _b, _e = self.refs.resolve(r, ref)
        parent = self._pick_parent(r, ref, target, parent_number)
        self._clean_branch(r, branch)
        meta = dict(target.metadata if metadata is None else metadata)
        meta["cherry-pick-origin"] = target.id
        meta["cherry-pick-committer"] = target.committer

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes = three_way(
                self.committed,
                r.namespace_key,
                parent.meta_range_id,
                target.meta_range_id,
                head.meta_range_id,
                None,
                {},
            )
            return changes, [], parent.meta_range_id == target.meta_range_id

        return self.committer.commit_tree(
            r,
            branch,
            build,
            message=message or target.message,
            committer=committer,
            metadata=meta,
            allow_empty=force,
            same_tree_is_empty=False,
        )

    def _pick_parent(self, r: RepoRecord, ref: str, target: Commit, parent_number: int) -> Commit:
        """The parent a revert or cherry-pick diffs ``target`` against (1-based for merges)."""
        if len(target.parents) > 1:
            if not 1 <= parent_number <= len(target.parents):
                raise InvalidArgumentError(
                    f"{ref!r} is a merge commit: parent_number must be 1..{len(target.parents)}"
                )
            parent_id = target.parents[parent_number - 1]
        elif not target.parents:
            raise InvalidArgumentError(f"{ref!r} has no parent to diff against")
        else:
            if parent_number > 1:
                raise InvalidArgumentError(f"{ref!r} has one parent")
            parent_id = target.parents[0]
        return self.refs.commit(r, parent_id)

    def resolve(self, repo: str, ref: str) -> str:
        return self.refs.resolve(self.repos.get(repo), ref)[0].id

    def tree_ranges(self, repo: str, ref: str) -> list[RangeInfo]:
        """The ranges of a ref's committed tree (diagnostics and work-proportionality tests)."""
        r = self.repos.get(repo)
        commit, _b, _e = self.refs.resolve(r, ref)
        return list(self.committed.read_metarange(r.namespace_key, commit.meta_range_id).ranges)
