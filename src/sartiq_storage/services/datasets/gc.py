"""Garbage collection, in process: mark what active commits and staging reference, then sweep.

Retention follows lakeFS: from each branch head (and each dangling commit still inside the
default window) walk first-parent history; commits are active up to and including the first
one older than the branch's retention. Blobs no active commit and no staged entry references,
older than the grace period, are candidates. External (imported) objects live outside the
namespace and are never listed, so never touched. Commits and the range files they need are
kept forever, so history stays readable; reading a collected blob is Gone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sartiq_storage.core.datasets.model import Commit, GcReport
from sartiq_storage.services.datasets.blobs import DATA_PREFIX
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord, decode_commit
from sartiq_storage.services.datasets.staging import decode, partition

if TYPE_CHECKING:
    from sartiq_storage.services.datasets.engine import NativeDatasetEngine

DAY = 86_400


def _staged_addresses(engine: NativeDatasetEngine, repo: RepoRecord) -> set[str]:
    found: set[str] = set()
    for _key, data in engine.kv.scan(repo.partition, prefix="branches/"):
        for token in BranchRecord.decode(data).tokens:
            for _path, value in engine.kv.scan(partition(token)):
                record = decode(value)
                if record is not None and not record[8]:
                    found.add(str(record[2]))
    return found


def _active_commits(
    engine: NativeDatasetEngine, repo: RepoRecord, commits: dict[str, Commit]
) -> set[str]:
    rules = engine.effective_gc_rules(repo.repository.name)
    now = engine._now()
    heads: dict[str, str] = {
        key[len("branches/") :]: BranchRecord.decode(data).commit_id
        for key, data in engine.kv.scan(repo.partition, prefix="branches/")
    }
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
    engine: NativeDatasetEngine, repo: RepoRecord, *, dry_run: bool, grace_seconds: int
) -> GcReport:
    ns = repo.namespace_key
    committed = engine.committed
    commits = {
        c.id: c
        for c in (decode_commit(d) for _k, d in engine.kv.scan(repo.partition, prefix="commits/"))
    }
    active = _active_commits(engine, repo, commits)

    reachable: set[str] = set()
    seen_ranges: set[str] = set()
    for commit_id in active:
        for info in committed.read_metarange(ns, commits[commit_id].meta_range_id).ranges:
            if info.id in seen_ranges:
                continue
            seen_ranges.add(info.id)
            for record in committed.read_range(ns, info.id).records:
                if not record[8]:
                    reachable.add(str(record[2]))
    reachable |= _staged_addresses(engine, repo)

    deadline = time.time() - grace_seconds
    candidates = sorted(
        info.key[len(ns) + 1 :]
        for info in engine.store.list(f"{ns}/{DATA_PREFIX}")
        if info.key[len(ns) + 1 :] not in reachable and info.last_modified.timestamp() <= deadline
    )
    deleted = metadata_deleted = 0
    if not dry_run:
        # Writes staged since the mark may have re-used a blob (dedup): look once more.
        late = _staged_addresses(engine, repo)
        doomed = [f"{ns}/{a}" for a in candidates if a not in late]
        failures = engine.store.delete_many(doomed)
        deleted = len(doomed) - len(failures)

        needed_meta = {c.meta_range_id for c in commits.values()}
        needed_ranges: set[str] = set()
        for metarange_id in needed_meta:
            needed_ranges.update(r.id for r in committed.read_metarange(ns, metarange_id).ranges)
        orphans = [
            info.key
            for folder, needed in (("ranges", needed_ranges), ("metaranges", needed_meta))
            for info in engine.store.list(f"{ns}/_meta/{folder}/")
            if info.key.rsplit("/", 1)[-1] not in needed
            and info.last_modified.timestamp() <= deadline
        ]
        metadata_deleted = len(orphans) - len(engine.store.delete_many(orphans))
    return GcReport(
        dry_run=dry_run,
        active_commits=len(active),
        reachable_addresses=len(reachable),
        candidates=tuple(candidates),
        deleted=deleted,
        metadata_files_deleted=metadata_deleted,
    )
