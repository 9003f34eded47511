"""Garbage collection, in process: mark what active commits and staging reference, then sweep.

Retention follows lakeFS: from each branch head (and each dangling commit still inside the
default window) walk first-parent history; commits are active up to and including the first
one older than the branch's retention. Blobs no active commit and no staged entry references,
older than the grace period, are candidates, except an address issued for a pre-signed
write whose link window (24 h, :mod:`~.link_addresses`) is still open: its upload may be
linked yet. Linked addresses are referenced like any other. External (imported) objects
live outside the namespace and are never listed, so never touched. Commits and the range
files they need are kept forever, so history stays readable; reading a collected blob is
GoneError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.model import Commit, GcReport, GcRules
from sartiq_storage.services.datasets.blobs import DATA_PREFIX
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.link_addresses import still_linkable
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.staging import Staging

DAY = 86_400


class GcRefManager(Protocol):
    """All GC needs of the refs, as graveler's GarbageCollectionManager gets: branches, commits."""

    def branch_records(self, repo: RepoRecord) -> Iterator[tuple[str, BranchRecord]]: ...

    def commits(self, repo: RepoRecord) -> Iterator[Commit]: ...


def _staged_addresses(refs: GcRefManager, staging: Staging, repo: RepoRecord) -> set[str]:
    found: set[str] = set()
    for _name, branch in refs.branch_records(repo):
        for token in branch.tokens:
            for _path, record in staging.changes([token]):
                if record is not None and not record.external:
                    found.add(record.address)
    return found


def _active_commits(
    refs: GcRefManager, repo: RepoRecord, commits: dict[str, Commit], rules: GcRules, now: int
) -> set[str]:
    heads: dict[str, str] = {name: record.commit_id for name, record in refs.branch_records(repo)}
    reachable: set[str] = set()
    stack = list(heads.values())
    while stack:
        visiting = stack.pop()
        if visiting in reachable or visiting not in commits:
            continue
        reachable.add(visiting)
        stack.extend(commits[visiting].parents)

    starts: list[tuple[str, int]] = [
        (head, rules.branches.get(name, rules.default_retention_days))
        for name, head in heads.items()
    ]
    default_cutoff = now - rules.default_retention_days * DAY
    starts += [
        (cid, rules.default_retention_days)
        for cid, c in commits.items()
        if cid not in reachable and c.creation_date >= default_cutoff
    ]
    active: set[str] = set()
    for start, days in starts:
        cutoff = now - days * DAY
        commit_id: str | None = start
        while commit_id is not None and commit_id in commits:
            active.add(commit_id)
            commit = commits[commit_id]
            if commit.creation_date < cutoff:
                break
            commit_id = commit.parents[0] if commit.parents else None
    return active


def collect(
    refs: GcRefManager,
    staging: Staging,
    committed: CommittedStore,
    store: ObjectStore,
    repo: RepoRecord,
    *,
    rules: GcRules,
    clock: Callable[[], float],
    dry_run: bool,
    grace_seconds: int,
) -> GcReport:
    """Mark and (unless ``dry_run``) sweep one repository. ``clock`` dates retention (the
    engine's clock); the grace period is measured against the store's own times. ``store``
    is the repository's own (``(store, prefix)`` of its namespace): GC lists and deletes only
    under that namespace there, never another repository's or the content store's keys."""
    ns = repo.namespace_key
    prefix = committed.stores.resolve(ns)[1]
    commits = {c.id: c for c in refs.commits(repo)}
    active = _active_commits(refs, repo, commits, rules, int(clock()))

    reachable: set[str] = set()
    seen_ranges: set[str] = set()
    for commit_id in active:
        for info in committed.read_metarange(ns, commits[commit_id].meta_range_id).ranges:
            if info.id in seen_ranges:
                continue
            seen_ranges.add(info.id)
            for record in committed.read_range(ns, info.id).records:
                if not record.external:
                    reachable.add(record.address)
    reachable |= _staged_addresses(refs, staging, repo)

    deadline = time.time() - grace_seconds
    now = clock()
    candidates = sorted(
        info.key[len(prefix) + 1 :]
        for info in store.list(f"{prefix}/{DATA_PREFIX}")
        if info.key[len(prefix) + 1 :] not in reachable
        and info.last_modified.timestamp() <= deadline
        # uploaded through a pre-signed URL and not linked yet, but still linkable
        and not still_linkable(info.key[len(prefix) + 1 :], now)
    )
    deleted = metadata_deleted = 0
    if not dry_run:
        # Writes staged since the mark may have re-used a blob (dedup): look once more.
        late = _staged_addresses(refs, staging, repo)
        doomed = [f"{prefix}/{a}" for a in candidates if a not in late]
        failures = store.delete_many(doomed)
        deleted = len(doomed) - len(failures)

        needed_meta = {c.meta_range_id for c in commits.values()}
        needed_ranges: set[str] = set()
        for metarange_id in needed_meta:
            needed_ranges.update(r.id for r in committed.read_metarange(ns, metarange_id).ranges)
        orphans = [
            info.key
            for folder, needed in (("ranges", needed_ranges), ("metaranges", needed_meta))
            for info in store.list(f"{prefix}/_meta/{folder}/")
            if info.key.rsplit("/", 1)[-1] not in needed
            and info.last_modified.timestamp() <= deadline
        ]
        metadata_deleted = len(orphans) - len(store.delete_many(orphans))
    return GcReport(
        dry_run=dry_run,
        active_commits=len(active),
        reachable_addresses=len(reachable),
        candidates=tuple(candidates),
        deleted=deleted,
        metadata_files_deleted=metadata_deleted,
    )
