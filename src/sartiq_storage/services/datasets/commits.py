"""Turning changes into commits: the staged ones (commit) or ones computed from the head
(merge, revert, cherry-pick, import). The head moves only by compare-and-set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from sartiq_storage.core.datasets.errors import NoChangesError
from sartiq_storage.core.datasets.model import Commit
from sartiq_storage.services import failpoints
from sartiq_storage.services.datasets.branches import (
    Branches,
    CasLostError,
    MovedError,
    new_token,
    retry_cas,
)
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.committed import Change, CommittedStore
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.staging import Staging

Build = Callable[[Commit], tuple[list[Change], list[str], bool]]
"""``build(head)``: the changes, the extra parents, and whether it found nothing to do."""


class Committer:
    def __init__(
        self,
        refs: RefResolver,
        branches: Branches,
        graph: CommitGraph,
        committed: CommittedStore,
        staging: Staging,
    ) -> None:
        self.refs = refs
        self.branches = branches
        self.graph = graph
        self.committed = committed
        self.staging = staging

    def commit_staged(
        self,
        r: RepoRecord,
        branch: str,
        message: str,
        committer: str,
        metadata: Mapping[str, str] | None,
        allow_empty: bool,
        date: int | None,
    ) -> Commit:
        """Seal the staging token, then commit the sealed tokens (caller holds the lock)."""

        def seal(cur: BranchRecord) -> BranchRecord | None:
            if self.staging.is_empty(cur.staging_token):
                if not cur.sealed_tokens and not allow_empty:
                    raise NoChangesError(f"no changes to commit on {branch!r}")
                return None
            return replace(
                cur,
                staging_token=new_token(),
                sealed_tokens=(cur.staging_token, *cur.sealed_tokens),
            )

        self.branches.update(r, branch, seal)

        # Every round starts from the branch record as it is now, as lakeFS's commit does
        # (graveler.Commit: the changes are read from the sealed tokens inside the branch
        # update). A change list read before another process committed would put its older
        # values back over that process's acknowledged writes.
        def attempt() -> Commit:
            record, raw = self.branches.get(r, branch)
            head = self.refs.commit(r, record.commit_id)
            changes = self.staging.changes(record.sealed_tokens)
            tree = self.committed.apply_changes(r.namespace_key, head.meta_range_id, changes)
            failpoints.hit("datasets.commit.before_head_moves")
            if tree == head.meta_range_id and not allow_empty:
                # Nothing left: the sealed changes are no-ops, or another process's commit
                # took them along (lakeFS answers "no changes" too).
                emptied = replace(record, sealed_tokens=())
                if self.branches.swap(r, branch, raw, emptied, record.sealed_tokens):
                    raise NoChangesError(f"no changes to commit on {branch!r}")
            else:
                commit = self.graph.store(
                    r,
                    parents=(head.id,),
                    meta_range_id=tree,
                    message=message,
                    committer=committer,
                    metadata=metadata,
                    date=date,
                )
                moved = replace(record, commit_id=commit.id, sealed_tokens=())
                if self.branches.swap(r, branch, raw, moved, record.sealed_tokens):
                    return commit
            raise CasLostError(branch)

        return retry_cas(attempt, f"branch {branch!r}")

    def commit_tree(
        self,
        r: RepoRecord,
        branch: str,
        build: Build,
        *,
        message: str,
        committer: str,
        metadata: Mapping[str, str] | None,
        allow_empty: bool,
        same_tree_is_empty: bool = True,
    ) -> Commit:
        """Commit changes computed from the head (merge, revert, import); staging untouched.

        ``build(head)`` reruns if another process moved the head meanwhile. With
        ``same_tree_is_empty`` false, an unchanged tree still makes a commit (lakeFS's merge,
        revert and cherry-pick judge "no changes" by their source alone).
        """
        with self.branches.lock(r, branch):
            while True:
                record, _raw = self.branches.get(r, branch)
                head = self.refs.commit(r, record.commit_id)
                changes, extra_parents, nothing = build(head)
                tree = self.committed.apply_changes(r.namespace_key, head.meta_range_id, changes)
                unchanged = same_tree_is_empty and tree == head.meta_range_id
                if (nothing or unchanged) and not allow_empty:
                    raise NoChangesError(f"no changes for {branch!r}")
                commit = self.graph.store(
                    r,
                    parents=(head.id, *extra_parents),
                    meta_range_id=tree,
                    message=message,
                    committer=committer,
                    metadata=metadata,
                    date=None,
                )
                try:
                    self.branches.advance(r, branch, head.id, commit.id)
                except MovedError:
                    continue
                return commit
