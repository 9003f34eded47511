"""Garbage collection with its narrow dependencies only (refs, staging, committed trees, the
store, the rules and a clock): no engine involved."""

from __future__ import annotations

import time
from collections.abc import Callable

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.model import Entry, GcReport, GcRules, Repository
from sartiq_storage.core.datasets.ranges import EMPTY_METARANGE_ID, Record, entry_to_record
from sartiq_storage.services.datasets.blobs import Blobs
from sartiq_storage.services.datasets.branches import Branches
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.retention import collect
from sartiq_storage.services.datasets.staging import Staging

REPO = RepoRecord(Repository("gc", "datasets/gc", "main", 0), "datasets/gc", "uid1")
NS = REPO.namespace_key


class World:
    """A repository built from the managers: ``old`` only in the first commit, ``kept`` in
    the head, ``staged`` staged on main, ``loose`` nowhere."""

    def __init__(self) -> None:
        self.kv = MemoryKV()
        self.store = MemoryStore()
        self.committed = CommittedStore(self.store)
        self.refs = RefResolver(self.kv)
        self.staging = Staging(self.kv)
        branches = Branches(self.kv, self.staging)
        graph = CommitGraph(self.kv, self.refs, self.committed, lambda: int(time.time()))
        blobs = Blobs(self.store)
        self.addresses = {
            name: blobs.put(NS, name.encode()).address
            for name in ("old", "kept", "staged", "loose")
        }

        def record(name: str) -> Record:
            entry = Entry(name, self.addresses[name], len(name), "0" * 32, "text/plain", 0)
            return entry_to_record(entry)

        first = graph.store(
            REPO,
            parents=[],
            meta_range_id=self.committed.write_tree(NS, [record("old")]),
            message="first",
            committer="t",
            metadata=None,
            date=None,
        )
        head = graph.store(
            REPO,
            parents=[first.id],
            meta_range_id=self.committed.write_tree(NS, [record("kept")]),
            message="head",
            committer="t",
            metadata=None,
            date=None,
        )
        assert head.meta_range_id != EMPTY_METARANGE_ID
        branches.create(REPO, "main", BranchRecord(head.id, "token"))
        self.staging.put("token", "staged", record("staged"))

    def collect(self, clock: Callable[[], float], *, dry_run: bool = True) -> GcReport:
        return collect(
            self.refs,
            self.staging,
            self.committed,
            self.store,
            REPO,
            rules=GcRules(21),
            clock=clock,
            dry_run=dry_run,
            grace_seconds=0,
        )


def test_only_blobs_nothing_references_are_candidates() -> None:
    world = World()
    report = world.collect(time.time)
    assert report.candidates == (world.addresses["loose"],)
    assert report.active_commits == 2


def test_the_clock_decides_which_commits_are_retained() -> None:
    world = World()
    report = world.collect(lambda: time.time() + 30 * 86_400)  # a month on: only the head
    assert report.active_commits == 1
    assert set(report.candidates) == {world.addresses["old"], world.addresses["loose"]}


def test_a_sweep_deletes_the_candidates_only() -> None:
    world = World()
    report = world.collect(time.time, dry_run=False)
    assert report.deleted == 1
    assert not world.store.exists(f"{NS}/{world.addresses['loose']}")
    for name in ("old", "kept", "staged"):
        assert world.store.exists(f"{NS}/{world.addresses[name]}")
