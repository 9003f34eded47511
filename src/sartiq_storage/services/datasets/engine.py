"""The native versioned-dataset engine: lakeFS semantics on our KV store and ObjectStore.

Modelled on lakeFS's Graveler (see ``docs/datasets.md``): staged changes in KV partitions,
committed trees as content-addressed ranges, branch pointers moved only by compare-and-set.
Like graveler's orchestrator, the engine holds narrow managers and only wires them:
:mod:`~.repositories`, :mod:`~.refs` and :mod:`~.commit_graph` (refs), :mod:`~.branches`
(compare-and-set, locks), :mod:`~.committed` and :mod:`~.tree_merge` (committed trees),
:mod:`~.staging` and :mod:`~.views`, :mod:`~.commits`, and :mod:`~.retention` (GC).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import (
    AlreadyExistsError,
    DirtyBranchError,
    InvalidArgumentError,
    NotFoundError,
    ProtectedBranchError,
)
from sartiq_storage.core.datasets.model import (
    Branch,
    Commit,
    GcReport,
    GcRules,
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
from sartiq_storage.core.datasets.ranges import EMPTY_METARANGE_BYTES, EMPTY_METARANGE_ID
from sartiq_storage.core.datasets.refs import is_full_commit_id, parse_ref
from sartiq_storage.core.errors import BucketNotFoundError, ObjectNotFoundError
from sartiq_storage.services.datasets.blobs import Blobs
from sartiq_storage.services.datasets.branches import Branches, new_token
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.commits import Committer
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.imports import BATCH as IMPORT_BATCH
from sartiq_storage.services.datasets.imports import ImportOperations
from sartiq_storage.services.datasets.link_addresses import LinkAddresses
from sartiq_storage.services.datasets.locations import NamespaceStores
from sartiq_storage.services.datasets.presigned import PresignedOperations
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.repositories import Repositories
from sartiq_storage.services.datasets.retention import collect
from sartiq_storage.services.datasets.staging import Staging
from sartiq_storage.services.datasets.version_ops import VersionOperations
from sartiq_storage.services.datasets.views import Views


class NativeDatasetEngine(PresignedOperations, VersionOperations, ImportOperations):
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
        stores: NamespaceStores | None = None,
        import_batch: int = IMPORT_BATCH,
    ) -> None:
        """``reserved_prefixes``: where no repository may live (the content zones and any
        prefix the service writes; ``open_engine`` adds the lifecycle policy's).
        ``stores``: where namespaces live (their own buckets, the datasets folder); unset,
        every namespace is a prefix on ``store``. ``import_batch``: source objects an import
        saves per step."""
        self.import_batch = import_batch
        self.reserved_prefixes = tuple(reserved_prefixes)
        self.kv = kv
        self.store = store
        self.stores = stores or NamespaceStores(store)
        self.clock = clock
        self.committed = CommittedStore(self.stores, cache_ranges=cache_ranges)
        self.blobs = Blobs(self.stores)
        self.links = LinkAddresses(kv)
        self.staging = Staging(kv)
        self.repos = Repositories(kv)
        self.refs = RefResolver(kv)
        self.branches = Branches(kv, self.staging)
        self.graph = CommitGraph(kv, self.refs, self.committed, self._now)
        self.views = Views(self.refs, self.staging, self.committed)
        self.committer = Committer(
            self.refs, self.branches, self.graph, self.committed, self.staging
        )

    def close(self) -> None:
        self.kv.close()
        self.stores.close()
        self.store.close()

    def store_for(self, repository: str) -> tuple[ObjectStore, str]:
        """The object store a repository's namespace lives on and its key prefix there:
        its blobs are ``<prefix>/data/…``, its tree files ``<prefix>/_meta/…``."""
        return self.stores.resolve(self.repos.get(repository).namespace_key)

    def _conflict(self, ns: str, others: Sequence[RepoRecord]) -> str | None:
        """The zones rule on the key (not on a dataset bucket), then overlap with others."""
        if self.stores.zoned(ns):
            problem = namespace_conflict(
                self.stores.key_of(ns), reserved=self.reserved_prefixes, repositories=()
            )
            if problem is not None:
                return problem
        return namespace_conflict(
            ns,
            reserved=(),
            repositories=((r.repository.name, r.namespace_key) for r in others),
        )

    # -- repositories --------------------------------------------------------------------
    def create_repository(
        self,
        name: str,
        storage_namespace: str,
        *,
        default_branch: str = "main",
        read_only: bool = False,
        committer: str = "sartiq-storage",
        bare: bool = False,
    ) -> Repository:
        """``bare``: no branch and no first commit, what ``restoreRefs`` fills (lakeFS's
        ``bare=true``)."""
        validate_repository_name(name)
        validate_branch_name(default_branch)
        ns = self.stores.locate(storage_namespace)
        others = list(self.repos.records())
        if any(r.repository.name == name for r in others):
            raise AlreadyExistsError(f"repository {name!r} already exists")
        problem = self._conflict(ns, others)
        if problem is not None:
            raise InvalidArgumentError(problem)
        repository = Repository(name, storage_namespace, default_branch, self._now(), read_only)
        record = RepoRecord(repository, ns, uuid.uuid4().hex[:12])
        try:
            self.committed.put_metarange_bytes(ns, EMPTY_METARANGE_ID, EMPTY_METARANGE_BYTES)
        except (ObjectNotFoundError, BucketNotFoundError):
            # The namespace's bucket does not exist (lakeFS's "failed to access storage", a
            # 400), not a missing object nor a store that is down.
            raise InvalidArgumentError(
                f"storage namespace {storage_namespace!r} is not accessible: its bucket "
                "does not exist (create it first)"
            ) from None
        if bare:
            if not self.repos.publish(record):
                raise AlreadyExistsError(f"repository {name!r} already exists")
            return repository
        commit = self.graph.store(
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
            BranchRecord(commit.id, new_token()).encode(),
        )
        # Visible only once its branch and first commit exist, as in lakeFS.
        if not self.repos.publish(record):
            raise AlreadyExistsError(f"repository {name!r} already exists")
        return repository

    def namespace_conflicts(self) -> list[tuple[str, str]]:
        """``(repository, why)`` for every existing repository whose namespace overlaps a
        content zone or another repository (made before that was refused): what
        ``datasets check`` and ``serve`` report."""
        records = list(self.repos.records())
        out = []
        for record in records:
            problem = self._conflict(record.namespace_key, [o for o in records if o is not record])
            if problem is not None:
                out.append((record.repository.name, problem))
        return out

    def get_repository(self, name: str) -> Repository:
        return self.repos.get(name).repository

    def list_repositories(self, *, after: str = "", amount: int = 100) -> list[Repository]:
        return self.repos.page(after=after, amount=amount)

    def delete_repository(self, name: str) -> None:
        """Removes the metadata; like lakeFS, the namespace's objects stay."""
        repo = self.repos.get(name)
        for _name, record in self.refs.branch_records(repo):
            for token in record.tokens:
                self.staging.drop(token)
        self.repos.delete(repo)

    # -- branches ------------------------------------------------------------------------
    def create_branch(
        self, repo: str, name: str, source_ref: str, *, hidden: bool = False
    ) -> Branch:
        validate_branch_name(name)
        r, commit = self._source(repo, source_ref)
        if not self.branches.create(r, name, BranchRecord(commit.id, new_token(), hidden=hidden)):
            raise AlreadyExistsError(f"branch {name!r} already exists")
        return Branch(name, commit.id)

    def _source(self, repo: str, source_ref: str) -> tuple[RepoRecord, Commit]:
        """The repository and the commit a new branch starts from. A source named like a
        branch (the usual case) is read with the repository record in one round trip;
        resolution order stays lakeFS's (a full commit id first, then a branch, a tag…)."""
        expr = parse_ref(source_ref)
        if not expr.plain or expr.committed_only or is_full_commit_id(expr.base):
            r = self.repos.get(repo)
            return r, self.refs.resolve(r, source_ref)[0]
        r, data = self.repos.get_with(repo, f"branches/{source_ref}")
        if data is None:
            return r, self.refs.resolve(r, source_ref)[0]
        return r, self.refs.commit(r, BranchRecord.decode(data).commit_id)

    def get_branch(self, repo: str, name: str) -> Branch:
        record, _raw = self.branches.get(self.repos.get(repo), name)
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
        return self.branches.page(
            self.repos.get(repo),
            prefix=prefix,
            after=after,
            amount=amount,
            show_hidden=show_hidden,
        )

    def delete_branch(self, repo: str, name: str) -> None:
        r = self._writable_repo(repo)
        if name == r.repository.default_branch:
            raise ProtectedBranchError("the default branch cannot be deleted")
        # Protection does not block deletion, as on lakeFS (its DeleteBranch refuses only the
        # default branch): protection blocks object writes, commits and resets.
        with self.branches.lock(r, name):
            self.branches.delete(r, name)

    def reset_changes(
        self,
        repo: str,
        branch: str,
        type: Literal["object", "common_prefix", "reset"] = "reset",
        path: str | None = None,
    ) -> None:
        r = self._writable_repo(repo)
        self.repos.check_unprotected(r, branch)
        record, _raw = self.branches.get(r, branch)
        if type == "reset":
            with self.branches.lock(r, branch):
                old = record.staging_token
                self.branches.update(r, branch, lambda cur: replace(cur, staging_token=new_token()))
                self.staging.drop(old)
            return
        if path is None:
            raise InvalidArgumentError(f"reset of type {type!r} needs a path")
        if type == "object":
            self.staging.remove(record.staging_token, validate_path(path))
        elif type == "common_prefix":
            self.staging.remove_prefix(record.staging_token, path)
        else:
            raise InvalidArgumentError(f"unknown reset type {type!r}")

    def hard_reset(
        self, repo: str, branch: str, ref: str, *, force: bool = False, actor: str = ""
    ) -> Branch:
        r = self._writable_repo(repo)
        self.repos.check_unprotected(r, branch)
        target, _b, _e = self.refs.resolve(r, ref)
        with self.branches.lock(r, branch):
            record, _raw = self.branches.get(r, branch)
            if not force and self.views.is_dirty(r, record):
                raise DirtyBranchError(f"branch {branch!r} has uncommitted changes")
            previous = record.commit_id
            new = self.branches.update(
                r,
                branch,
                lambda cur: replace(
                    cur,
                    commit_id=target.id,
                    staging_token=new_token() if force else cur.staging_token,
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
            self.branches.add_reflog(r, entry)
        return Branch(branch, target.id)

    def reflog(self, repo: str, branch: str) -> list[ReflogEntry]:
        """Newest first."""
        return self.branches.reflog(self.repos.get(repo), branch)

    # -- tags ----------------------------------------------------------------------------
    def create_tag(self, repo: str, name: str, ref: str, *, force: bool = False) -> Tag:
        r = self.repos.get(repo)
        validate_tag_name(name)
        commit, _b, _e = self.refs.resolve(r, ref)
        if not self.refs.set_tag(r, name, commit.id, force=force):
            raise AlreadyExistsError(f"tag already exists: {name!r}")
        return Tag(name, commit.id)

    def get_tag(self, repo: str, name: str) -> Tag:
        commit_id = self.refs.tag(self.repos.get(repo), name)
        if commit_id is None:
            raise NotFoundError(f"tag {name!r} not found")
        return Tag(name, commit_id)

    def list_tags(
        self, repo: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Tag]:
        return self.refs.list_tags(self.repos.get(repo), prefix=prefix, after=after, amount=amount)

    def delete_tag(self, repo: str, name: str) -> None:
        r = self.repos.get(repo)
        self.get_tag(repo, name)
        self.refs.delete_tag(r, name)

    # -- administration ------------------------------------------------------------------
    def get_gc_rules(self, repo: str) -> GcRules:
        """NotFoundError until rules are set, as on lakeFS (:meth:`effective_gc_rules` for GC)."""
        rules = self.repos.gc_rules(self.repos.get(repo))
        if rules is None:
            raise NotFoundError(f"no GC rules set for repository {repo!r}")
        return rules

    def effective_gc_rules(self, repo: str) -> GcRules:
        """The rules GC applies: the set ones, else 21 days for every branch."""
        return self.repos.effective_gc_rules(self.repos.get(repo))

    def set_gc_rules(self, repo: str, rules: GcRules) -> None:
        """Any whole number of days, negative too (lakeFS takes them: nothing is retained)."""
        self.repos.set_gc_rules(self.repos.get(repo), rules)

    def gc(self, repo: str, *, dry_run: bool = True, grace_seconds: int = 6 * 3600) -> GcReport:
        r = self.repos.get(repo)
        return collect(
            self.refs,
            self.staging,
            self.committed,
            self.stores.resolve(r.namespace_key)[0],
            r,
            rules=self.repos.effective_gc_rules(r),
            clock=self.clock,
            dry_run=dry_run,
            grace_seconds=grace_seconds,
        )

    def get_branch_protection(self, repo: str) -> list[str]:
        return self.repos.protection(self.repos.get(repo))

    def set_branch_protection(
        self, repo: str, patterns: Sequence[str], *, expected: Sequence[str] | None = None
    ) -> None:
        self.repos.set_protection(self.repos.get(repo), patterns, expected=expected)
