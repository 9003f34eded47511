"""Three-way merge and diff over committed trees, without branches or staging."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.errors import InvalidArgumentError, MergeConflictError
from sartiq_storage.core.datasets.model import DiffEntry, Entry
from sartiq_storage.core.datasets.ranges import Record, entry_to_record
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.tree_merge import (
    diff_rows,
    identity,
    page,
    prefix_within,
    three_way,
)

NS = "datasets/m"


def _record(path: str, content: str) -> Record:
    return entry_to_record(
        Entry(path, f"data/{content}", len(content), content * 2, "text/plain", 0)
    )


def _tree(committed: CommittedStore, **files: str) -> str:
    records = [_record(p.replace("__", "/"), c) for p, c in files.items()]
    return committed.write_tree(NS, sorted(records))


@pytest.fixture
def committed() -> CommittedStore:
    return CommittedStore(MemoryStore())


def test_identity_and_prefix_within() -> None:
    assert identity(None) is None
    record = _record("a", "x")
    assert identity(record) == record.identity
    within = prefix_within(["images/"], ["t.csv"])
    assert within("images/a", "images/z")
    assert within("a", "z")  # the interval holds t.csv
    assert not within("u", "z")


def test_three_way_takes_each_side_and_lists_every_conflict(committed: CommittedStore) -> None:
    base = _tree(committed, a="1", b="1", c="1")
    source = _tree(committed, a="2", b="2", c="1", d="new")
    dest = _tree(committed, a="1", b="3", c="1")
    with pytest.raises(MergeConflictError) as conflict:
        three_way(committed, NS, base, source, dest, None, {})
    assert conflict.value.paths == ["b"]
    changes = three_way(committed, NS, base, source, dest, "source-wins", {})
    assert [(path, new.identity if new else None) for path, new in changes] == [
        ("a", _record("a", "2").identity),
        ("b", _record("b", "2").identity),
        ("d", _record("d", "new").identity),
    ]
    kept = three_way(committed, NS, base, source, dest, None, {"b": "dest"})
    assert [path for path, _new in kept] == ["a", "d"]


def test_diff_two_dot_and_three_dot(committed: CommittedStore) -> None:
    base = _tree(committed, a="1", b="1")
    left = _tree(committed, a="1", b="2")
    right = _tree(committed, a="3", b="4", c="5")
    two = list(diff_rows(committed, NS, base, right, mode="two_dot", base_tree=None, within=None))
    assert [(d.type, d.path) for d in two] == [("changed", "a"), ("changed", "b"), ("added", "c")]
    three = list(
        diff_rows(committed, NS, left, right, mode="three_dot", base_tree=base, within=None)
    )
    assert [(d.type, d.path) for d in three] == [
        ("changed", "a"),
        ("conflict", "b"),
        ("added", "c"),
    ]
    with pytest.raises(InvalidArgumentError):
        list(diff_rows(committed, NS, left, right, mode="three_dot", base_tree=None, within=None))


def test_page_folds_common_prefixes() -> None:
    rows = [
        DiffEntry("added", "a/1", "object", 1),
        DiffEntry("added", "a/2", "object", 1),
        DiffEntry("removed", "b", "object", 0),
    ]
    folded = page(rows, prefix="", delimiter="/", after="", amount=10)
    assert [(d.type, d.path) for d in folded] == [("prefix_changed", "a/"), ("removed", "b")]
    assert [d.path for d in page(rows, prefix="", delimiter="", after="a/1", amount=1)] == ["a/2"]
