"""The native versioned-dataset engine: lakeFS semantics on our KV store and ObjectStore.

Modelled on lakeFS's Graveler (see ``docs/datasets.md``): staged changes in KV partitions,
committed trees as content-addressed ranges, branch pointers moved only by compare-and-set.
"""

from __future__ import annotations

import fnmatch
import heapq
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Literal

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import (
    AlreadyExists,
    DirtyBranch,
    InvalidArgument,
    MergeConflict,
    NoChanges,
    NotFound,
    PreconditionFailed,
    ProtectedBranch,
    ReadOnlyRepository,
    TooManyRetries,
)
from sartiq_storage.core.datasets.merge import merge_outcome, resolve_outcome
from sartiq_storage.core.datasets.model import (
    Branch,
    Commit,
    CommonPrefix,
    DiffEntry,
    DiffType,
    Entry,
    GcReport,
    GcRules,
    Listing,
    MergeStrategy,
    ReflogEntry,
    Repository,
    Tag,
)
from sartiq_storage.core.datasets.names import (
    validate_branch_name,
    validate_path,
    validate_repository_name,
    validate_tag_name,
)
from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES, namespace_conflict
from sartiq_storage.core.datasets.ranges import (
    EMPTY_METARANGE_BYTES,
    EMPTY_METARANGE_ID,
    RangeInfo,
    Record,
    entry_to_record,
    record_to_entry,
)
from sartiq_storage.core.errors import PreconditionFailedError
from sartiq_storage.services import failpoints
from sartiq_storage.services.datasets import gc as gc_module
from sartiq_storage.services.datasets.blobs import Blobs, namespace_key
from sartiq_storage.services.datasets.committed import Change, CommittedStore, Within
from sartiq_storage.services.datasets.importer import import_records
from sartiq_storage.services.datasets.records import (
    GRAVELER,
    BranchRecord,
    RepoRecord,
    View,
    commit_id_for,
    decode_gc_rules,
    decode_reflog,
    dumps,
    encode_commit,
    encode_gc_rules,
    encode_reflog,
    loads,
)
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.staging import Staging

Data = bytes | Iterable[bytes]
MAX_CAS_ATTEMPTS = 50
DEFAULT_RETENTION_DAYS = 21
MERGE_STRATEGY_KEY = ".lakefs.merge.strategy"


class _Moved(Exception):
    """The branch head moved under a commit: rebase and try again."""

    def __init__(self, record: BranchRecord) -> None:
        self.record = record


def _new_token() -> str:
    return uuid.uuid4().hex


def _identity(record: Record | None) -> str | None:
    return None if record is None else str(record[1])


def _prefix_within(prefixes: Sequence[str], objects: Sequence[str]) -> Within:
    def within(lo: str, hi: str) -> bool:
        if any(lo <= p <= hi for p in objects):
            return True
        return any(hi >= p and (lo <= p or lo.startswith(p)) for p in prefixes)

    return within


class NativeDatasetEngine:
    """Implements :class:`~sartiq_storage.core.datasets.protocol.DatasetStore` natively.

    Thread-safe. Same-branch commits and merges queue on a per-branch lock in this process;
    across processes the compare-and-set on the branch record keeps every update.
    """

    def __init__(
        self,
        kv: KV,
        store: ObjectStore,
        *,
        cache_ranges: int = 512,
        clock: Callable[[], float] = time.time,
        reserved_prefixes: Sequence[str] = RESERVED_PREFIXES,
    ) -> None:
        """``reserved_prefixes``: where no repository may live (the content zones and any
        prefix the service writes; ``open_engine`` adds the lifecycle policy's)."""
        self.reserved_prefixes = tuple(reserved_prefixes)
        self.kv = kv
        self.store = store
        self.committed = CommittedStore(store, cache_ranges=cache_ranges)
        self.blobs = Blobs(store)
        self.staging = Staging(kv)
        self.refs = RefResolver(kv)
        self.clock = clock
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        self.kv.close()
        self.store.close()

    def _now(self) -> int:
        return int(self.clock())

    # -- internals: records --------------------------------------------------------------
    def _repo(self, name: str) -> RepoRecord:
        data = self.kv.get(GRAVELER, f"repos/{name}")
        if data is None:
            raise NotFound(f"repository {name!r} not found")
        return RepoRecord.decode(data)

    def _writable(self, repo: RepoRecord) -> None:
        if repo.repository.read_only:
            raise ReadOnlyRepository(f"repository {repo.repository.name!r} is read-only")

    def _protected(self, repo: RepoRecord, branch: str) -> None:
        if any(fnmatch.fnmatchcase(branch, p) for p in self._protection(repo)):
            raise ProtectedBranch(f"branch {branch!r} is protected")

    def _protection(self, repo: RepoRecord) -> list[str]:
        data = self.kv.get(repo.partition, "settings/protection")
        return [] if data is None else [str(p) for p in loads(data)]

    def _branch(self, repo: RepoRecord, name: str) -> tuple[BranchRecord, bytes]:
        found = self.refs.branch(repo, name)
        if found is None:
            raise NotFound(f"branch {name!r} not found in {repo.repository.name!r}")
        return found

    @contextmanager
    def _lock(self, repo: RepoRecord, branch: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault((repo.partition, branch), threading.Lock())
        with lock:
            yield

    def _update_branch(
        self, repo: RepoRecord, name: str, change: Callable[[BranchRecord], BranchRecord | None]
    ) -> BranchRecord:
        """Compare-and-set loop: ``change`` maps the current record to the new one (None: keep)."""
        for attempt in range(MAX_CAS_ATTEMPTS):
            current, raw = self._branch(repo, name)
            new = change(current)
            if new is None:
                return current
            if self.kv.set_if(repo.partition, f"branches/{name}", new.encode(), raw):
                return new
            time.sleep(min(0.001 * 2**attempt, 0.05))
        raise TooManyRetries(f"branch {name!r} kept changing; try again")

    def _store_commit(
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
        creation = self._now() if date is None else int(date)
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
        return commit

    def _view(self, repo: RepoRecord, ref: str) -> View:
        commit, branch, expr = self.refs.resolve(repo, ref)
        if branch is not None and expr.plain and not expr.committed_only:
            return View(commit, tuple(branch.tokens), expr.base)
        return View(commit, (), expr.base if branch is not None else None)

    def _lookup(self, repo: RepoRecord, view: View, path: str) -> Record | None:
        if view.tokens:
            found, record = self.staging.get(view.tokens, path)
            if found:
                return record
        return self.committed.lookup(repo.namespace_key, view.commit.meta_range_id, path)

    def _iter_view(
        self, repo: RepoRecord, view: View, *, prefix: str, after: str
    ) -> Iterator[Record]:
        """Records of a view with path > after under prefix, staged changes layered on top."""
        committed = self.committed.iterate(
            repo.namespace_key, view.commit.meta_range_id, after=after, prefix=prefix
        )
        staged = (
            self.staging.changes(view.tokens, prefix=prefix, after=after) if view.tokens else []
        )
        si = 0
        for record in committed:
            while si < len(staged) and staged[si][0] < record[0]:
                if staged[si][1] is not None:
                    yield staged[si][1]  # type: ignore[misc]
                si += 1
            if si < len(staged) and staged[si][0] == record[0]:
                if staged[si][1] is not None:
                    yield staged[si][1]  # type: ignore[misc]
                si += 1
                continue
            yield record
        for _path, new in staged[si:]:
            if new is not None:
                yield new

    def _effective_staged(self, repo: RepoRecord, record: BranchRecord) -> Iterator[DiffEntry]:
        head = self.refs.commit(repo, record.commit_id)
        for path, new in self.staging.changes(record.tokens):
            old = self.committed.lookup(repo.namespace_key, head.meta_range_id, path)
            if _identity(old) == _identity(new):
                continue
            if new is None:
                assert old is not None
                yield DiffEntry("removed", path, "object", 0)  # lakeFS: a tombstone's size
            else:
                yield DiffEntry("added" if old is None else "changed", path, "object", int(new[3]))

    def _is_dirty(self, repo: RepoRecord, record: BranchRecord) -> bool:
        return next(self._effective_staged(repo, record), None) is not None

    # -- repositories --------------------------------------------------------------------
    def create_repository(
        self,
        name: str,
        storage_namespace: str,
        *,
        default_branch: str = "main",
        read_only: bool = False,
        committer: str = "sartiq-storage",
    ) -> Repository:
        validate_repository_name(name)
        validate_branch_name(default_branch)
        ns = namespace_key(self.store, storage_namespace)
        others = list(self._repo_records())
        if any(r.repository.name == name for r in others):
            raise AlreadyExists(f"repository {name!r} already exists")
        problem = namespace_conflict(
            ns,
            reserved=self.reserved_prefixes,
            repositories=((r.repository.name, r.namespace_key) for r in others),
        )
        if problem is not None:
            raise InvalidArgument(problem)
        repository = Repository(name, storage_namespace, default_branch, self._now(), read_only)
        record = RepoRecord(repository, ns, uuid.uuid4().hex[:12])
        with suppress(PreconditionFailedError):
            self.store.put(
                self.committed.metarange_key(ns, EMPTY_METARANGE_ID),
                EMPTY_METARANGE_BYTES,
                if_absent=True,
            )
        commit = self._store_commit(
            record,
            parents=(),
            meta_range_id=EMPTY_METARANGE_ID,
            message="Repository created",
            committer=committer,
            metadata={},
            date=None,
        )
        self.kv.set(
            record.partition,
            f"branches/{default_branch}",
            BranchRecord(commit.id, _new_token()).encode(),
        )
        # Visible only once its branch and first commit exist, as in lakeFS.
        if not self.kv.set_if(GRAVELER, f"repos/{name}", record.encode(), None):
            raise AlreadyExists(f"repository {name!r} already exists")
        return repository

    def _repo_records(self) -> Iterator[RepoRecord]:
        for _key, data in self.kv.scan(GRAVELER, prefix="repos/"):
            yield RepoRecord.decode(data)

    def namespace_conflicts(self) -> list[tuple[str, str]]:
        """``(repository, why)`` for every existing repository whose namespace overlaps a
        content zone or another repository (made before that was refused): what
        ``datasets check`` and ``serve`` report."""
        records = list(self._repo_records())
        out = []
        for record in records:
            problem = namespace_conflict(
                record.namespace_key,
                reserved=self.reserved_prefixes,
                repositories=(
                    (o.repository.name, o.namespace_key) for o in records if o is not record
                ),
            )
            if problem is not None:
                out.append((record.repository.name, problem))
        return out

    def get_repository(self, name: str) -> Repository:
        return self._repo(name).repository

    def list_repositories(self, *, after: str = "", amount: int = 100) -> list[Repository]:
        out: list[Repository] = []
        start = f"repos/{after}" if after else ""
        for _key, data in self.kv.scan(GRAVELER, prefix="repos/", after=start):
            out.append(RepoRecord.decode(data).repository)
            if len(out) >= amount:
                break
        return out

    def delete_repository(self, name: str) -> None:
        """Removes the metadata; like lakeFS, the namespace's objects stay."""
        repo = self._repo(name)
        for _key, data in self.kv.scan(repo.partition, prefix="branches/"):
            for token in BranchRecord.decode(data).tokens:
                self.staging.drop(token)
        self.kv.delete(GRAVELER, f"repos/{name}")
        self.kv.delete_prefix(repo.partition)

    # -- branches ------------------------------------------------------------------------
    def create_branch(
        self, repo: str, name: str, source_ref: str, *, hidden: bool = False
    ) -> Branch:
        r = self._repo(repo)
        validate_branch_name(name)
        commit, _branch, _expr = self.refs.resolve(r, source_ref)
        record = BranchRecord(commit.id, _new_token(), hidden=hidden)
        if not self.kv.set_if(r.partition, f"branches/{name}", record.encode(), None):
            raise AlreadyExists(f"branch {name!r} already exists")
        return Branch(name, commit.id)

    def get_branch(self, repo: str, name: str) -> Branch:
        record, _raw = self._branch(self._repo(repo), name)
        return Branch(name, record.commit_id)

    def list_branches(
        self,
        repo: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> list[Branch]:
        r = self._repo(repo)
        start = f"branches/{after}" if after else ""
        out: list[Branch] = []
        for key, data in self.kv.scan(r.partition, prefix=f"branches/{prefix}", after=start):
            record = BranchRecord.decode(data)
            if record.hidden and not show_hidden:
                continue
            out.append(Branch(key[len("branches/") :], record.commit_id))
            if len(out) >= amount:
                break
        return out

    def delete_branch(self, repo: str, name: str) -> None:
        r = self._repo(repo)
        self._writable(r)
        if name == r.repository.default_branch:
            raise ProtectedBranch("the default branch cannot be deleted")
        self._protected(r, name)
        with self._lock(r, name):
            record, _raw = self._branch(r, name)
            self.kv.delete(r.partition, f"branches/{name}")
            for token in record.tokens:
                self.staging.drop(token)

    def reset_changes(
        self,
        repo: str,
        branch: str,
        type: Literal["object", "common_prefix", "reset"] = "reset",
        path: str | None = None,
    ) -> None:
        r = self._repo(repo)
        self._writable(r)
        self._protected(r, branch)
        record, _raw = self._branch(r, branch)
        if type == "reset":
            with self._lock(r, branch):
                old = record.staging_token
                self._update_branch(
                    r,
                    branch,
                    lambda cur: replace(cur, staging_token=_new_token()),
                )
                self.staging.drop(old)
            return
        if path is None:
            raise InvalidArgument(f"reset of type {type!r} needs a path")
        if type == "object":
            self.staging.remove(record.staging_token, validate_path(path))
        elif type == "common_prefix":
            self.staging.remove_prefix(record.staging_token, path)
        else:
            raise InvalidArgument(f"unknown reset type {type!r}")

    def hard_reset(
        self, repo: str, branch: str, ref: str, *, force: bool = False, actor: str = ""
    ) -> Branch:
        r = self._repo(repo)
        self._writable(r)
        self._protected(r, branch)
        target, _b, _e = self.refs.resolve(r, ref)
        with self._lock(r, branch):
            record, _raw = self._branch(r, branch)
            if not force and self._is_dirty(r, record):
                raise DirtyBranch(f"branch {branch!r} has uncommitted changes")
            previous = record.commit_id
            new = self._update_branch(
                r,
                branch,
                lambda cur: replace(
                    cur,
                    commit_id=target.id,
                    staging_token=_new_token() if force else cur.staging_token,
                    sealed_tokens=(),
                ),
            )
            if force:
                for token in record.tokens:
                    if token not in new.tokens:
                        self.staging.drop(token)
            entry = ReflogEntry(
                branch, previous, target.id, f"hard_reset to {ref}", actor, self._now()
            )
            sequence = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
            self.kv.set(r.partition, f"reflog/{branch}/{sequence}", encode_reflog(entry))
        return Branch(branch, target.id)

    def reflog(self, repo: str, branch: str) -> list[ReflogEntry]:
        """Newest first."""
        r = self._repo(repo)
        entries = [
            decode_reflog(d) for _k, d in self.kv.scan(r.partition, prefix=f"reflog/{branch}/")
        ]
        return entries[::-1]

    # -- objects -------------------------------------------------------------------------
    def _stage(self, r: RepoRecord, branch: str, path: str, record: Record | None) -> None:
        """Write into the current token; if a commit sealed it meanwhile, write again."""
        token = self._branch(r, branch)[0].staging_token
        while True:
            self.staging.put(token, path, record)
            current = self._branch(r, branch)[0].staging_token
            if current == token:
                return
            token = current

    def _staging_target(self, repo: str, branch: str) -> RepoRecord:
        r = self._repo(repo)
        self._writable(r)
        validate_branch_name(branch)
        self._protected(r, branch)
        self._branch(r, branch)
        return r

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
    ) -> Entry:
        r = self._staging_target(repo, branch)
        validate_path(path)
        view = self._view(r, branch)
        if if_absent and self._lookup(r, view, path) is not None:
            raise PreconditionFailed(f"path {path!r} already exists on {branch!r}")
        blob = self.blobs.put(r.namespace_key, data)
        entry = Entry(
            path=path,
            address=blob.address,
            size=blob.size,
            checksum=blob.checksum,
            content_type=content_type or "application/octet-stream",
            mtime=self._now(),
            metadata=dict(sorted((metadata or {}).items())),
        )
        self._stage(r, branch, path, entry_to_record(entry))
        return entry

    def stage_entries(self, repo: str, branch: str, entries: Iterable[Entry]) -> int:
        """Link many existing entries at once (metadata only, like lakeFS's staging/backing)."""
        r = self._staging_target(repo, branch)
        changes = [(validate_path(e.path), entry_to_record(e)) for e in entries]
        token = self._branch(r, branch)[0].staging_token
        while True:
            self.staging.put_many(token, changes)
            current = self._branch(r, branch)[0].staging_token
            if current == token:
                return len(changes)
            token = current

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        if self.delete_objects(repo, branch, [path]):
            raise NotFound(f"object {path!r} not found on {branch!r}")

    def delete_objects(self, repo: str, branch: str, paths: Sequence[str]) -> list[str]:
        r = self._staging_target(repo, branch)
        view = self._view(r, branch)
        missing = []
        for path in paths:
            validate_path(path)
            if self._lookup(r, view, path) is None:
                missing.append(path)
            else:
                self._stage(r, branch, path, None)
        return missing

    def stat_object(self, repo: str, ref: str, path: str) -> Entry:
        r = self._repo(repo)
        record = self._lookup(r, self._view(r, ref), validate_path(path))
        if record is None:
            raise NotFound(f"object {path!r} not found at {ref!r}")
        return record_to_entry(record)

    def get_object(
        self, repo: str, ref: str, path: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        r = self._repo(repo)
        entry = self.stat_object(repo, ref, path)
        return self.blobs.read(r.namespace_key, entry.address, entry.external, start, end)

    def list_objects(
        self,
        repo: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Listing:
        r = self._repo(repo)
        view = self._view(r, ref)
        items: list[Entry | CommonPrefix] = []
        last_prefix = ""
        for record in self._iter_view(r, view, prefix=prefix, after=after):
            path = record[0]
            if delimiter:
                cut = path.find(delimiter, len(prefix))
                if cut >= 0:
                    common = path[: cut + len(delimiter)]
                    if (
                        common == last_prefix
                        or (after and after.startswith(common))
                        or (after and common <= after)
                    ):
                        continue
                    last_prefix = common
                    if len(items) == amount:
                        return Listing(tuple(items), True, _offset(items[-1]))
                    items.append(CommonPrefix(common))
                    continue
            if len(items) == amount:
                return Listing(tuple(items), True, _offset(items[-1]))
            items.append(record_to_entry(record))
        return Listing(tuple(items), False, "")

    def copy_object(
        self, repo: str, branch: str, src_path: str, dest_path: str, *, src_ref: str | None = None
    ) -> Entry:
        r = self._staging_target(repo, branch)
        validate_path(dest_path)
        source = self.stat_object(repo, src_ref or branch, src_path)
        entry = Entry(
            path=dest_path,
            address=source.address,
            size=source.size,
            checksum=source.checksum,
            content_type=source.content_type,
            mtime=self._now(),
            metadata=source.metadata,
            external=source.external,
        )
        self._stage(r, branch, dest_path, entry_to_record(entry))
        return entry

    # -- versions ------------------------------------------------------------------------
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
        r = self._repo(repo)
        self._writable(r)
        self._protected(r, branch)
        with self._lock(r, branch):
            return self._commit_staged(r, branch, message, committer, metadata, allow_empty, date)

    def _commit_staged(
        self,
        r: RepoRecord,
        branch: str,
        message: str,
        committer: str,
        metadata: Mapping[str, str] | None,
        allow_empty: bool,
        date: int | None,
    ) -> Commit:
        def seal(cur: BranchRecord) -> BranchRecord | None:
            if self.staging.is_empty(cur.staging_token):
                if not cur.sealed_tokens and not allow_empty:
                    raise NoChanges(f"no changes to commit on {branch!r}")
                return None
            return replace(
                cur,
                staging_token=_new_token(),
                sealed_tokens=(cur.staging_token, *cur.sealed_tokens),
            )

        self._update_branch(r, branch, seal)
        # Every round starts from the branch record as it is now, as lakeFS's commit does
        # (graveler.Commit: the changes are read from the sealed tokens inside the branch
        # update). A change list read before another process committed would put its older
        # values back over that process's acknowledged writes.
        for attempt in range(MAX_CAS_ATTEMPTS):
            record, raw = self._branch(r, branch)
            head = self.refs.commit(r, record.commit_id)
            changes = self.staging.changes(record.sealed_tokens)
            tree = self.committed.apply_changes(r.namespace_key, head.meta_range_id, changes)
            failpoints.hit("datasets.commit.before_head_moves")
            if tree == head.meta_range_id and not allow_empty:
                # Nothing left: the sealed changes are no-ops, or another process's commit
                # took them along (lakeFS answers "no changes" too).
                emptied = replace(record, sealed_tokens=())
                if self._swap_branch(r, branch, raw, emptied, record.sealed_tokens):
                    raise NoChanges(f"no changes to commit on {branch!r}")
            else:
                commit = self._store_commit(
                    r,
                    parents=(head.id,),
                    meta_range_id=tree,
                    message=message,
                    committer=committer,
                    metadata=metadata,
                    date=date,
                )
                moved = replace(record, commit_id=commit.id, sealed_tokens=())
                if self._swap_branch(r, branch, raw, moved, record.sealed_tokens):
                    return commit
            time.sleep(min(0.001 * 2**attempt, 0.05))
        raise TooManyRetries(f"branch {branch!r} kept changing; try again")

    def _swap_branch(
        self,
        r: RepoRecord,
        branch: str,
        expected: bytes,
        new: BranchRecord,
        absorbed: Sequence[str],
    ) -> bool:
        """Replace the branch record if it is still exactly ``expected`` (any seal, commit or
        reset since makes the caller rebuild); on success drop the staging tokens ``new``
        absorbed."""
        if not self.kv.set_if(r.partition, f"branches/{branch}", new.encode(), expected):
            return False
        for token in absorbed:
            self.staging.drop(token)
        return True

    def _advance(self, r: RepoRecord, branch: str, expected: str, new: str) -> None:
        """Move the head from ``expected`` to ``new`` (compare-and-set), staging untouched;
        raises :class:`_Moved` when another writer moved it first."""

        def step(cur: BranchRecord) -> BranchRecord:
            if cur.commit_id != expected:
                raise _Moved(cur)
            return replace(cur, commit_id=new)

        self._update_branch(r, branch, step)

    def _commit_tree(
        self,
        r: RepoRecord,
        branch: str,
        build: Callable[[Commit], tuple[list[Change], list[str], bool]],
        *,
        message: str,
        committer: str,
        metadata: Mapping[str, str] | None,
        allow_empty: bool,
        same_tree_is_empty: bool = True,
    ) -> Commit:
        """Commit changes computed from the head (merge, revert, import); staging untouched.

        ``build(head)`` returns the changes, the extra parents, and whether it found nothing
        to do; it reruns if another process moved the head meanwhile. With
        ``same_tree_is_empty`` false, an unchanged tree still makes a commit (lakeFS's merge,
        revert and cherry-pick judge "no changes" by their source alone).
        """
        with self._lock(r, branch):
            while True:
                record, _raw = self._branch(r, branch)
                head = self.refs.commit(r, record.commit_id)
                changes, extra_parents, nothing = build(head)
                tree = self.committed.apply_changes(r.namespace_key, head.meta_range_id, changes)
                unchanged = same_tree_is_empty and tree == head.meta_range_id
                if (nothing or unchanged) and not allow_empty:
                    raise NoChanges(f"no changes for {branch!r}")
                commit = self._store_commit(
                    r,
                    parents=(head.id, *extra_parents),
                    meta_range_id=tree,
                    message=message,
                    committer=committer,
                    metadata=metadata,
                    date=None,
                )

                try:
                    self._advance(r, branch, head.id, commit.id)
                except _Moved:
                    continue
                return commit

    def get_commit(self, repo: str, commit_id: str) -> Commit:
        return self.refs.commit(self._repo(repo), commit_id)

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
        """Newest first (by generation, then date). Path filters diff each commit with its
        first parent, skipping ranges outside the filter (no per-path index yet)."""
        r = self._repo(repo)
        start, _b, _e = self.refs.resolve(r, ref)
        within = _prefix_within(prefixes, objects) if objects or prefixes else None
        wanted_objects = set(objects)
        out: list[Commit] = []
        seen = {start.id}
        heap: list[tuple[int, int, str]] = [(-start.generation, -start.creation_date, start.id)]
        skipping = bool(after)
        while heap and len(out) < amount:
            _g, _d, commit_id = heapq.heappop(heap)
            commit = self.refs.commit(r, commit_id)
            parents = commit.parents[:1] if first_parent else commit.parents
            for parent_id in parents:
                if parent_id not in seen:
                    seen.add(parent_id)
                    parent = self.refs.commit(r, parent_id)
                    heapq.heappush(heap, (-parent.generation, -parent.creation_date, parent.id))
            if skipping:
                skipping = commit.id != after
                continue
            if within is not None and not self._touches(
                r, commit, within, wanted_objects, prefixes
            ):
                continue
            out.append(commit)
        return out

    def _touches(
        self,
        r: RepoRecord,
        commit: Commit,
        within: Within,
        objects: set[str],
        prefixes: Sequence[str],
    ) -> bool:
        parent_tree = (
            self.refs.commit(r, commit.parents[0]).meta_range_id
            if commit.parents
            else EMPTY_METARANGE_ID
        )
        for path, _left, _right in self.committed.diff(
            r.namespace_key, parent_tree, commit.meta_range_id, within=within
        ):
            if path in objects or any(path.startswith(p) for p in prefixes):
                return True
        return False

    def diff(
        self,
        repo: str,
        left_ref: str,
        right_ref: str,
        *,
        mode: Literal["three_dot", "two_dot"] = "three_dot",
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> list[DiffEntry]:
        r = self._repo(repo)
        left, _lb, _le = self.refs.resolve(r, left_ref)
        right, _rb, _re = self.refs.resolve(r, right_ref)
        within = _prefix_within([prefix], []) if prefix else None
        ns = r.namespace_key
        rows: Iterator[DiffEntry]
        if mode == "two_dot":
            rows = (
                _diff_entry(path, old, new)
                for path, old, new in self.committed.diff(
                    ns, left.meta_range_id, right.meta_range_id, within=within
                )
            )
        elif mode == "three_dot":
            base = self._merge_base(r, left, right)
            left_changes = {
                path: new
                for path, _old, new in self.committed.diff(
                    ns, base.meta_range_id, left.meta_range_id, within=within
                )
            }

            def three_dot() -> Iterator[DiffEntry]:
                for path, old, new in self.committed.diff(
                    ns, base.meta_range_id, right.meta_range_id, within=within
                ):
                    entry = _diff_entry(path, old, new)
                    if path in left_changes and (
                        merge_outcome(_identity(old), _identity(new), _identity(left_changes[path]))
                        == "conflict"
                    ):
                        entry = DiffEntry("conflict", path, "object", entry.size_bytes)
                    yield entry

            rows = three_dot()
        else:
            raise InvalidArgument(f"unknown diff mode {mode!r}")
        return _page(rows, prefix=prefix, delimiter=delimiter, after=after, amount=amount)

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
        r = self._repo(repo)
        record, _raw = self._branch(r, branch)
        return _page(
            self._effective_staged(r, record),
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            amount=amount,
        )

    def _merge_base(self, r: RepoRecord, left: Commit, right: Commit) -> Commit:
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
                    commits[parent_id] = self.refs.commit(r, parent_id)
                before = flags.get(parent_id, 0)
                flags[parent_id] = before | flags[commit_id]
                if parent_id in done and flags[parent_id] != before:
                    done.discard(parent_id)
                heapq.heappush(heap, (-commits[parent_id].generation, parent_id))
        raise NotFound("the refs have no common ancestor")

    def merge_base(self, repo: str, left_ref: str, right_ref: str) -> Commit:
        r = self._repo(repo)
        left, _lb, _le = self.refs.resolve(r, left_ref)
        right, _rb, _re = self.refs.resolve(r, right_ref)
        return self._merge_base(r, left, right)

    def _three_way(
        self,
        r: RepoRecord,
        base_tree: str,
        source_tree: str,
        dest_tree: str,
        strategy: str | None,
        resolutions: Mapping[str, Literal["source", "dest"]],
    ) -> list[Change]:
        ns = r.namespace_key
        dest_changes = {
            path: new for path, _old, new in self.committed.diff(ns, base_tree, dest_tree)
        }
        changes: list[Change] = []
        conflicts: list[str] = []
        for path, base, source in self.committed.diff(ns, base_tree, source_tree):
            dest = dest_changes.get(path, base)
            outcome = merge_outcome(_identity(base), _identity(source), _identity(dest))
            outcome = resolve_outcome(outcome, strategy, resolutions.get(path))
            if outcome == "conflict":
                conflicts.append(path)
            elif outcome == "source" and _identity(source) != _identity(dest):
                changes.append((path, source))
        if conflicts:
            raise MergeConflict(conflicts)
        return changes

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
            raise InvalidArgument(f"invalid merge strategy {strategy!r}")
        for side in (resolutions or {}).values():
            if side not in ("source", "dest"):
                raise InvalidArgument(f"invalid resolution {side!r}")
        r = self._repo(repo)
        self._writable(r)
        source, _sb, _se = self.refs.resolve(r, source_ref)
        record, _raw = self._branch(r, dest_branch)
        if self._is_dirty(r, record):
            raise DirtyBranch(f"branch {dest_branch!r} has uncommitted changes")
        meta = dict(metadata or {})
        if strategy:
            meta[MERGE_STRATEGY_KEY] = strategy

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            base = self._merge_base(r, head, source)
            changes = self._three_way(
                r,
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

        return self._commit_tree(
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
        r = self._repo(repo)
        self._writable(r)
        target, _b, _e = self.refs.resolve(r, ref)
        parent = self._pick_parent(r, ref, target, parent_number)
        record, _raw = self._branch(r, branch)
        if not force and self._is_dirty(r, record):
            raise DirtyBranch(f"branch {branch!r} has uncommitted changes")

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes = self._three_way(
                r, target.meta_range_id, parent.meta_range_id, head.meta_range_id, None, {}
            )
            return changes, [], False

        return self._commit_tree(
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
        r = self._repo(repo)
        self._writable(r)
        target, _b, _e = self.refs.resolve(r, ref)
        parent = self._pick_parent(r, ref, target, parent_number)
        record, _raw = self._branch(r, branch)
        if self._is_dirty(r, record):
            raise DirtyBranch(f"branch {branch!r} has uncommitted changes")
        meta = dict(target.metadata if metadata is None else metadata)
        meta["cherry-pick-origin"] = target.id
        meta["cherry-pick-committer"] = target.committer

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes = self._three_way(
                r, parent.meta_range_id, target.meta_range_id, head.meta_range_id, None, {}
            )
            return changes, [], parent.meta_range_id == target.meta_range_id

        return self._commit_tree(
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
                raise InvalidArgument(
                    f"{ref!r} is a merge commit: parent_number must be 1..{len(target.parents)}"
                )
            parent_id = target.parents[parent_number - 1]
        elif not target.parents:
            raise InvalidArgument(f"{ref!r} has no parent to diff against")
        else:
            if parent_number > 1:
                raise InvalidArgument(f"{ref!r} has one parent")
            parent_id = target.parents[0]
        return self.refs.commit(r, parent_id)

    def resolve(self, repo: str, ref: str) -> str:
        return self.refs.resolve(self._repo(repo), ref)[0].id

    def tree_ranges(self, repo: str, ref: str) -> list[RangeInfo]:
        """The ranges of a ref's committed tree (diagnostics and work-proportionality tests)."""
        r = self._repo(repo)
        commit, _b, _e = self.refs.resolve(r, ref)
        return list(self.committed.read_metarange(r.namespace_key, commit.meta_range_id).ranges)

    # -- tags ----------------------------------------------------------------------------
    def create_tag(self, repo: str, name: str, ref: str, *, force: bool = False) -> Tag:
        r = self._repo(repo)
        validate_tag_name(name)
        commit, _b, _e = self.refs.resolve(r, ref)
        value = dumps({"commit_id": commit.id})
        if force:
            self.kv.set(r.partition, f"tags/{name}", value)
        elif not self.kv.set_if(r.partition, f"tags/{name}", value, None):
            raise AlreadyExists(f"tag already exists: {name!r}")
        return Tag(name, commit.id)

    def get_tag(self, repo: str, name: str) -> Tag:
        commit_id = self.refs.tag(self._repo(repo), name)
        if commit_id is None:
            raise NotFound(f"tag {name!r} not found")
        return Tag(name, commit_id)

    def list_tags(
        self, repo: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Tag]:
        r = self._repo(repo)
        start = f"tags/{after}" if after else ""
        out: list[Tag] = []
        for key, data in self.kv.scan(r.partition, prefix=f"tags/{prefix}", after=start):
            out.append(Tag(key[len("tags/") :], str(loads(data)["commit_id"])))
            if len(out) >= amount:
                break
        return out

    def delete_tag(self, repo: str, name: str) -> None:
        r = self._repo(repo)
        self.get_tag(repo, name)
        self.kv.delete(r.partition, f"tags/{name}")

    # -- administration ------------------------------------------------------------------
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
        """Replaces everything under ``destination``; staged changes on the branch stay staged."""
        r = self._repo(repo)
        self._writable(r)
        self._protected(r, branch)
        if destination and not destination.endswith("/"):
            destination += "/"
        imported = {rec[0]: rec for rec in import_records(self.store, source, destination)}

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes: dict[str, Record | None] = dict(imported)
            for record in self.committed.iterate(
                r.namespace_key, head.meta_range_id, prefix=destination
            ):
                if record[0] not in imported:
                    changes[record[0]] = None
            return sorted(changes.items(), key=lambda item: item[0]), [], False

        return self._commit_tree(
            r,
            branch,
            build,
            message=message,
            committer=committer,
            metadata=metadata,
            allow_empty=True,
        )

    def get_gc_rules(self, repo: str) -> GcRules:
        """NotFound until rules are set, as on lakeFS (:meth:`effective_gc_rules` for GC)."""
        data = self.kv.get(self._repo(repo).partition, "settings/gc_rules")
        if data is None:
            raise NotFound(f"no GC rules set for repository {repo!r}")
        return decode_gc_rules(data)

    def effective_gc_rules(self, repo: str) -> GcRules:
        """The rules GC applies: the set ones, else 21 days for every branch."""
        data = self.kv.get(self._repo(repo).partition, "settings/gc_rules")
        return GcRules(DEFAULT_RETENTION_DAYS) if data is None else decode_gc_rules(data)

    def set_gc_rules(self, repo: str, rules: GcRules) -> None:
        """Any whole number of days, negative too (lakeFS takes them: nothing is retained)."""
        self.kv.set(self._repo(repo).partition, "settings/gc_rules", encode_gc_rules(rules))

    def gc(self, repo: str, *, dry_run: bool = True, grace_seconds: int = 6 * 3600) -> GcReport:
        return gc_module.collect(
            self, self._repo(repo), dry_run=dry_run, grace_seconds=grace_seconds
        )

    def get_branch_protection(self, repo: str) -> list[str]:
        return self._protection(self._repo(repo))

    def set_branch_protection(self, repo: str, patterns: Sequence[str]) -> None:
        self.kv.set(self._repo(repo).partition, "settings/protection", dumps(list(patterns)))


def _offset(item: Entry | CommonPrefix) -> str:
    return item.path


def _diff_entry(path: str, old: Record | None, new: Record | None) -> DiffEntry:
    kind: DiffType = "added" if old is None else "removed" if new is None else "changed"
    sized = new if new is not None else old
    return DiffEntry(kind, path, "object", None if sized is None else int(sized[3]))


def _page(
    rows: Iterable[DiffEntry], *, prefix: str, delimiter: str, after: str, amount: int
) -> list[DiffEntry]:
    out: list[DiffEntry] = []
    last_common = ""
    for row in rows:
        if prefix and not row.path.startswith(prefix):
            continue
        if delimiter:
            cut = row.path.find(delimiter, len(prefix))
            if cut >= 0:
                common = row.path[: cut + len(delimiter)]
                if common == last_common or (after and common <= after):
                    continue
                last_common = common
                row = DiffEntry("prefix_changed", common, "common_prefix")
        if after and row.path <= after:
            continue
        out.append(row)
        if len(out) >= amount:
            break
    return out
