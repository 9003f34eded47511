"""Reading a ref: staged changes layered over the committed tree.

A branch read consults its staging tokens newest first, then the head commit's tree (as
graveler's combined iterator does); a commit or tag read sees the committed tree only.
"""

from __future__ import annotations

from collections.abc import Iterator

from sartiq_storage.core.datasets.model import DiffEntry, DiffType
from sartiq_storage.core.datasets.ranges import Record
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord, View
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.staging import Staging
from sartiq_storage.services.datasets.tree_merge import identity


class Views:
    def __init__(self, refs: RefResolver, staging: Staging, committed: CommittedStore) -> None:
        self.refs = refs
        self.staging = staging
        self.committed = committed

    def view(self, repo: RepoRecord, ref: str) -> View:
        commit, branch, expr = self.refs.resolve(repo, ref)
        if branch is not None and expr.plain and not expr.committed_only:
            return View(commit, tuple(branch.tokens), expr.base)
        return View(commit, (), expr.base if branch is not None else None)

    def lookup(self, repo: RepoRecord, view: View, path: str) -> Record | None:
        if view.tokens:
            found, record = self.staging.get(view.tokens, path)
            if found:
                return record
        return self.committed.lookup(repo.namespace_key, view.commit.meta_range_id, path)

    def iterate(self, repo: RepoRecord, view: View, *, prefix: str, after: str) -> Iterator[Record]:
        """Records of a view with path > after under prefix, staged changes layered on top."""
        committed = self.committed.iterate(
            repo.namespace_key, view.commit.meta_range_id, after=after, prefix=prefix
        )
        staged = (
            self.staging.changes(view.tokens, prefix=prefix, after=after) if view.tokens else []
        )
        si = 0
        for record in committed:
            replaced = False
            while si < len(staged) and staged[si][0] <= record.path:
                path, staged_record = staged[si]
                si += 1
                if staged_record is not None:
                    yield staged_record
                replaced = path == record.path  # a staged change hides the committed record
            if not replaced:
                yield record
        for _path, new in staged[si:]:
            if new is not None:
                yield new

    def effective_staged(self, repo: RepoRecord, record: BranchRecord) -> Iterator[DiffEntry]:
        """The branch's uncommitted changes that differ from its head (no-op writes left out)."""
        head = self.refs.commit(repo, record.commit_id)
        for path, new in self.staging.changes(record.tokens):
            old = self.committed.lookup(repo.namespace_key, head.meta_range_id, path)
            if identity(old) == identity(new):
                continue
            if new is None:
                assert old is not None
                yield DiffEntry("removed", path, "object", 0)  # lakeFS: a tombstone's size
            else:
                kind: DiffType = "added" if old is None else "changed"
                yield DiffEntry(kind, path, "object", int(new.size))

    def is_dirty(self, repo: RepoRecord, record: BranchRecord) -> bool:
        return next(self.effective_staged(repo, record), None) is not None
