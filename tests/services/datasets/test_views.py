"""Reads through a ref's view: staged changes (newest token first) over the committed tree."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.model import Entry, Repository
from sartiq_storage.core.datasets.ranges import Record, entry_to_record
from sartiq_storage.services.datasets.branches import Branches
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.staging import Staging
from sartiq_storage.services.datasets.views import Views

REPO = RepoRecord(Repository("v", "datasets/v", "main", 0), "datasets/v", "uid1")


def _record(path: str, content: str) -> Record:
    checksum = content.rjust(32, "0")  # the identity follows the checksum, not the address
    return entry_to_record(Entry(path, f"data/{content}", len(content), checksum, "text/plain", 0))


@pytest.fixture
def views() -> Views:
    """main's head holds a, b, c; token ``old`` (sealed) deletes b and changes c, token
    ``new`` adds d and changes c again."""
    kv = MemoryKV()
    committed = CommittedStore(MemoryStore())
    refs = RefResolver(kv)
    staging = Staging(kv)
    graph = CommitGraph(kv, refs, committed, lambda: 0)
    tree = committed.write_tree(
        REPO.namespace_key, [_record("a", "1"), _record("b", "1"), _record("c", "1")]
    )
    head = graph.store(
        REPO,
        parents=[],
        meta_range_id=tree,
        message="head",
        committer="t",
        metadata=None,
        date=None,
    )
    Branches(kv, staging).create(REPO, "main", BranchRecord(head.id, "new", ("old",)))
    staging.put("old", "b", None)
    staging.put("old", "c", _record("c", "2"))
    staging.put("new", "c", _record("c", "3"))
    staging.put("new", "d", _record("d", "1"))
    return Views(refs, staging, committed)


def test_a_branch_sees_its_staged_changes_newest_first(views: Views) -> None:
    view = views.view(REPO, "main")
    assert view.branch == "main"
    assert views.lookup(REPO, view, "b") is None
    assert views.lookup(REPO, view, "c") == _record("c", "3")
    listed = [(r.path, r.address) for r in views.iterate(REPO, view, prefix="", after="")]
    assert listed == [("a", "data/1"), ("c", "data/3"), ("d", "data/1")]
    assert [r.path for r in views.iterate(REPO, view, prefix="", after="a")] == ["c", "d"]


def test_committed_only_refs_see_the_tree(views: Views) -> None:
    view = views.view(REPO, "main@")
    assert view.tokens == ()
    assert views.lookup(REPO, view, "b") == _record("b", "1")
    assert [r.path for r in views.iterate(REPO, view, prefix="", after="")] == ["a", "b", "c"]


def test_effective_staged_changes_and_dirtiness(views: Views) -> None:
    record, _raw = Branches(views.staging.kv, views.staging).get(REPO, "main")
    changes = [(d.type, d.path) for d in views.effective_staged(REPO, record)]
    assert changes == [("removed", "b"), ("changed", "c"), ("added", "d")]
    assert views.is_dirty(REPO, record)
