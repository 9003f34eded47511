"""The commit graph on its own: commits stored and dated by the clock given, merge bases,
and the log walk (generation order, first parent, ``after``, path filters)."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.errors import NotFoundError
from sartiq_storage.core.datasets.model import Commit, Entry, Repository
from sartiq_storage.core.datasets.ranges import EMPTY_METARANGE_ID, entry_to_record
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.records import RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver

REPO = RepoRecord(Repository("g", "datasets/g", "main", 0), "datasets/g", "uid1")


@pytest.fixture
def graph() -> CommitGraph:
    kv = MemoryKV()
    committed = CommittedStore(MemoryStore())
    ticks = iter(range(1_000, 2_000))
    return CommitGraph(kv, RefResolver(kv), committed, lambda: next(ticks))


def _commit(graph: CommitGraph, message: str, *parents: Commit, tree: str = "") -> Commit:
    return graph.store(
        REPO,
        parents=[p.id for p in parents],
        meta_range_id=tree or EMPTY_METARANGE_ID,
        message=message,
        committer="t",
        metadata=None,
        date=None,
    )


def test_commits_are_dated_by_the_clock_and_named_by_their_content(graph: CommitGraph) -> None:
    root = _commit(graph, "root")
    child = _commit(graph, "child", root)
    assert (root.creation_date, child.creation_date) == (1_000, 1_001)
    assert (root.generation, child.generation) == (1, 2)
    assert graph.refs.commit(REPO, child.id) == child
    same = graph.store(
        REPO,
        parents=[root.id],
        meta_range_id=EMPTY_METARANGE_ID,
        message="child",
        committer="t",
        metadata=None,
        date=1_001,
    )
    assert same.id == child.id


def test_merge_base_of_diverged_and_merged_histories(graph: CommitGraph) -> None:
    root = _commit(graph, "root")
    a1 = _commit(graph, "a1", root)
    b1 = _commit(graph, "b1", root)
    a2 = _commit(graph, "a2", a1)
    assert graph.merge_base(REPO, a2, b1) == root
    assert graph.merge_base(REPO, a2, a1) == a1  # an ancestor is its own base
    merged = _commit(graph, "merge b1 into a", a2, b1)
    b2 = _commit(graph, "b2", b1)
    assert graph.merge_base(REPO, merged, b2) == b1  # the merge brought b1 over


def test_merge_base_needs_a_common_ancestor(graph: CommitGraph) -> None:
    left, right = _commit(graph, "left root"), _commit(graph, "right root")
    with pytest.raises(NotFoundError):
        graph.merge_base(REPO, left, right)


def _log(graph: CommitGraph, start: Commit, **options: object) -> list[str]:
    settings: dict[str, object] = {
        "amount": 100,
        "after": "",
        "objects": (),
        "prefixes": (),
        "first_parent": False,
    }
    settings.update(options)
    return [c.message for c in graph.log(REPO, start, **settings)]  # type: ignore[arg-type]


def test_log_walks_newest_generation_first(graph: CommitGraph) -> None:
    root = _commit(graph, "root")
    a = _commit(graph, "a", root)
    b = _commit(graph, "b", root)
    merged = _commit(graph, "merge", a, b)
    assert _log(graph, merged) == ["merge", "b", "a", "root"]
    assert _log(graph, merged, first_parent=True) == ["merge", "a", "root"]
    assert _log(graph, merged, amount=2) == ["merge", "b"]
    page = graph.log(
        REPO, merged, amount=100, after=b.id, objects=(), prefixes=(), first_parent=False
    )
    assert [c.message for c in page] == ["a", "root"]


def test_log_filters_by_path(graph: CommitGraph) -> None:
    ns = REPO.namespace_key

    def tree(*paths: str) -> str:
        records = [
            entry_to_record(Entry(p, f"data/{p}", 1, "c" * 32, "text/plain", 0)) for p in paths
        ]
        return graph.committed.write_tree(ns, sorted(records))

    root = _commit(graph, "root")
    one = _commit(graph, "images", root, tree=tree("images/a.png"))
    two = _commit(graph, "tables", one, tree=tree("images/a.png", "tables/t.csv"))
    assert _log(graph, two, prefixes=("images/",)) == ["images"]
    assert _log(graph, two, objects=("tables/t.csv",)) == ["tables"]
    assert _log(graph, two, prefixes=("nothing/",)) == []
