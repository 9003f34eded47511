"""The commit graph: storing commits, walking history (log) and finding merge bases.

Graveler's RefManager (commit half): commits are immutable KV records named by the hash of
their content; ``generation`` (1 + the highest parent's) orders every walk newest first.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import NotFoundError
from sartiq_storage.core.datasets.model import Commit
from sartiq_storage.core.datasets.ranges import EMPTY_METARANGE_ID
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.records import RepoRecord, commit_id_for, encode_commit
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.tree_merge import prefix_within


class CommitGraph:
    def __init__(
        self, kv: KV, refs: RefResolver, committed: CommittedStore, now: Callable[[], int]
    ) -> None:
        """``now``: the clock commits are dated by (seconds)."""
        self.kv = kv
        self.refs = refs
        self.committed = committed
        self.now = now

    def store(
        self,
        repo: RepoRecord,
        *,
        parents: Sequence[str],
        meta_range_id: str,
        message: str,
        committer: str,
        metadata: Mapping[str, str] | None,
        date: int | None,
    ) -> Commit:
        generation = 1 + max((self.refs.commit(repo, p).generation for p in parents), default=0)
        creation = self.now() if date is None else int(date)
        meta = dict(sorted((metadata or {}).items()))
        commit_id = commit_id_for(
            committer=committer,
            message=message,
            meta_range_id=meta_range_id,
            creation_date=creation,
            metadata=meta,
            parents=parents,
        )
        commit = Commit(
            id=commit_id,
            parents=tuple(parents),
            committer=committer,
            message=message,
            creation_date=creation,
            meta_range_id=meta_range_id,
            metadata=meta,
            generation=generation,
        )
        self.kv.set(repo.partition, f"commits/{commit_id}", encode_commit(commit))
        return self.refs.keep(repo, commit)

    def merge_base(self, repo: RepoRecord, left: Commit, right: Commit) -> Commit:
        """The best common ancestor: walk both histories newest generation first."""
        flags: dict[str, int] = {left.id: 1}
        flags[right.id] = flags.get(right.id, 0) | 2
        commits = {left.id: left, right.id: right}
        heap = [(-c.generation, c.id) for c in {left.id: left, right.id: right}.values()]
        heapq.heapify(heap)
        done: set[str] = set()
        while heap:
            _g, commit_id = heapq.heappop(heap)
            if commit_id in done:
                continue
            done.add(commit_id)
            if flags[commit_id] == 3:
                return commits[commit_id]
            for parent_id in commits[commit_id].parents:
                if parent_id not in commits:
                    commits[parent_id] = self.refs.commit(repo, parent_id)
                before = flags.get(parent_id, 0)
                flags[parent_id] = before | flags[commit_id]
                if parent_id in done and flags[parent_id] != before:
                    done.discard(parent_id)
                heapq.heappush(heap, (-commits[parent_id].generation, parent_id))
        raise NotFoundError("the refs have no common ancestor")

    def log(
        self,
        repo: RepoRecord,
        start: Commit,
        *,
        amount: int,
        after: str,
        objects: Sequence[str],
        prefixes: Sequence[str],
        first_parent: bool,
    ) -> list[Commit]:
        """Newest first (by generation, then date). Path filters diff each commit with its
        first parent, skipping ranges outside the filter (no per-path index yet)."""
        within = prefix_within(prefixes, objects) if objects or prefixes else None
        wanted_objects = set(objects)
        out: list[Commit] = []
        seen = {start.id}
        heap: list[tuple[int, int, str]] = [(-start.generation, -start.creation_date, start.id)]
        skipping = bool(after)
        while heap and len(out) < amount:
            _g, _d, commit_id = heapq.heappop(heap)
            commit = self.refs.commit(repo, commit_id)
            parents = commit.parents[:1] if first_parent else commit.parents
            for parent_id in parents:
                if parent_id not in seen:
                    seen.add(parent_id)
                    parent = self.refs.commit(repo, parent_id)
                    heapq.heappush(heap, (-parent.generation, -parent.creation_date, parent.id))
            if skipping:
                skipping = commit.id != after
                continue
            if within is not None and not self._touches(
                repo, commit, within, wanted_objects, prefixes
            ):
                continue
            out.append(commit)
        return out

    def _touches(
        self,
        repo: RepoRecord,
        commit: Commit,
        within: Callable[[str, str], bool],
        objects: set[str],
        prefixes: Sequence[str],
    ) -> bool:
        parent_tree = (
            self.refs.commit(repo, commit.parents[0]).meta_range_id
            if commit.parents
            else EMPTY_METARANGE_ID
        )
        for path, _left, _right in self.committed.diff(
            repo.namespace_key, parent_tree, commit.meta_range_id, within=within
        ):
            if path in objects or any(path.startswith(p) for p in prefixes):
                return True
        return False
