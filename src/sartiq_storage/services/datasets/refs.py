"""Refs: resolution in lakeFS order (full id, branch, tag, unique id prefix; then ``~``/``^``),
commit and branch reads, and tags.

The read side of graveler's RefManager; it also serves GC (:class:`~.retention.GcRefManager`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import InvalidRefError, NotFoundError
from sartiq_storage.core.datasets.model import Commit, Tag
from sartiq_storage.core.datasets.refs import (
    RefExpr,
    is_commit_prefix,
    is_full_commit_id,
    parse_ref,
)
from sartiq_storage.services.datasets.records import (
    BranchRecord,
    RepoRecord,
    decode_commit,
    dumps,
    loads,
)

COMMITS_KEPT = 4096
"""Decoded commits kept in memory: a commit record never changes once written (its id is
the hash of its content, and a re-created repository gets a new partition), so a kept one
is never stale. Saves a metadata round trip on every read of a branch or a commit id."""


class RefResolver:
    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self._commits: OrderedDict[tuple[str, str], Commit] = OrderedDict()
        self._commits_guard = threading.Lock()

    def _kept(self, repo: RepoRecord, commit_id: str) -> Commit | None:
        with self._commits_guard:
            found = self._commits.get((repo.partition, commit_id))
            if found is not None:
                self._commits.move_to_end((repo.partition, commit_id))
            return found

    def keep(self, repo: RepoRecord, commit: Commit) -> Commit:
        """Remember ``commit`` (as read or as just written) for later reads."""
        with self._commits_guard:
            self._commits[(repo.partition, commit.id)] = commit
            if len(self._commits) > COMMITS_KEPT:
                self._commits.popitem(last=False)
        return commit

    def commit(self, repo: RepoRecord, commit_id: str) -> Commit:
        kept = self._kept(repo, commit_id)
        if kept is not None:
            return kept
        data = self.kv.get(repo.partition, f"commits/{commit_id}")
        if data is None:
            raise NotFoundError(f"commit {commit_id!r} not found in {repo.repository.name!r}")
        return self.keep(repo, decode_commit(data))

    def branch(self, repo: RepoRecord, name: str) -> tuple[BranchRecord, bytes] | None:
        data = self.kv.get(repo.partition, f"branches/{name}")
        return None if data is None else (BranchRecord.decode(data), data)

    def tag(self, repo: RepoRecord, name: str) -> str | None:
        data = self.kv.get(repo.partition, f"tags/{name}")
        return None if data is None else str(loads(data)["commit_id"])

    def branch_records(self, repo: RepoRecord) -> Iterator[tuple[str, BranchRecord]]:
        """Every branch, hidden ones too, as ``(name, record)``."""
        for key, data in self.kv.scan(repo.partition, prefix="branches/"):
            yield key[len("branches/") :], BranchRecord.decode(data)

    def commits(self, repo: RepoRecord) -> Iterator[Commit]:
        """Every commit the repository holds, reachable or not."""
        for _key, data in self.kv.scan(repo.partition, prefix="commits/"):
            yield decode_commit(data)

    def set_tag(self, repo: RepoRecord, name: str, commit_id: str, *, force: bool) -> bool:
        """False when the tag exists and ``force`` is not given."""
        value = dumps({"commit_id": commit_id})
        if force:
            self.kv.set(repo.partition, f"tags/{name}", value)
            return True
        return self.kv.set_if(repo.partition, f"tags/{name}", value, None)

    def list_tags(self, repo: RepoRecord, *, prefix: str, after: str, amount: int) -> list[Tag]:
        start = f"tags/{after}" if after else ""
        out: list[Tag] = []
        for key, data in self.kv.scan(repo.partition, prefix=f"tags/{prefix}", after=start):
            out.append(Tag(key[len("tags/") :], str(loads(data)["commit_id"])))
            if len(out) >= amount:
                break
        return out

    def delete_tag(self, repo: RepoRecord, name: str) -> None:
        self.kv.delete(repo.partition, f"tags/{name}")

    def resolve(self, repo: RepoRecord, ref: str) -> tuple[Commit, BranchRecord | None, RefExpr]:
        """The commit, the branch record when the ref is a plain branch, and the parsed ref."""
        expr = parse_ref(ref)
        if expr.modifiers:
            whole = ref[:-1] if expr.committed_only else ref
            tagged = self.tag(repo, whole)  # tags may contain '~'
            if tagged is not None:
                return self.commit(repo, tagged), None, RefExpr(whole, (), expr.committed_only)
        commit, branch = self._base(repo, expr.base)
        for modifier in expr.modifiers:
            branch = None
            if modifier.kind == "~":
                for _ in range(modifier.n):
                    if not commit.parents:
                        raise NotFoundError(f"{ref!r}: not enough ancestors")
                    commit = self.commit(repo, commit.parents[0])
            elif modifier.n > 0:
                if modifier.n > len(commit.parents):
                    raise NotFoundError(f"{ref!r}: commit has {len(commit.parents)} parent(s)")
                commit = self.commit(repo, commit.parents[modifier.n - 1])
        return commit, branch, expr

    def _base(self, repo: RepoRecord, base: str) -> tuple[Commit, BranchRecord | None]:
        if is_full_commit_id(base):
            kept = self._kept(repo, base)
            if kept is not None:
                return kept, None
            data = self.kv.get(repo.partition, f"commits/{base}")
            if data is not None:
                return self.keep(repo, decode_commit(data)), None
        found = self.branch(repo, base)
        if found is not None:
            return self.commit(repo, found[0].commit_id), found[0]
        tagged = self.tag(repo, base)
        if tagged is not None:
            return self.commit(repo, tagged), None
        if is_commit_prefix(base):
            matches = []
            for key, data in self.kv.scan(repo.partition, prefix=f"commits/{base}"):
                matches.append(data)
                if len(matches) > 1:
                    raise InvalidRefError(f"commit id prefix {base!r} is ambiguous")
                del key
            if matches:
                return decode_commit(matches[0]), None
        raise NotFoundError(f"ref {base!r} not found in {repo.repository.name!r}")
