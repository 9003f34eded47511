"""The lakeFS behaviours both engines share (reference §6.4), run on every engine fixture.

Each scenario asserts logical state only (paths, sizes, checksums, content types, metadata,
bytes, messages), never ids, so the native engine, the lakeFS-compatible API and a real
lakeFS must all pass it unchanged.
"""

from __future__ import annotations

import hashlib

import pytest

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import CommonPrefix, Entry, GcRules
from sartiq_storage.core.datasets.protocol import DatasetStore
from tests.support.lakefs import Service, is_real, namespace_for, unique


def read(engine: DatasetStore, repo: str, ref: str, path: str, **span: int) -> bytes:
    return b"".join(engine.get_object(repo, ref, path, **span))


def state(
    engine: DatasetStore, repo: str, ref: str
) -> dict[str, tuple[int, str, str, dict[str, str]]]:
    listing = engine.list_objects(repo, ref, amount=1000)
    return {
        i.path: (i.size, i.checksum, i.content_type, dict(i.metadata))
        for i in listing.items
        if isinstance(i, Entry)
    }


def test_repository_starts_with_one_commit(engine: DatasetStore, repo: str) -> None:
    assert engine.get_repository(repo).default_branch == "main"
    assert [c.message for c in engine.log(repo, "main")] == ["Repository created"]
    assert [b.name for b in engine.list_branches(repo)] == ["main"]
    with pytest.raises(e.AlreadyExistsError):
        engine.create_repository(repo, namespace_for(engine, repo + "-again"))
    with pytest.raises(e.NotFoundError):
        engine.get_repository(unique("missing"))


def test_objects_roundtrip_with_metadata_and_ranges(engine: DatasetStore, repo: str) -> None:
    data = b"0123456789" * 10
    put = engine.put_object(
        repo, "main", "images/a.bin", data, content_type="image/png", metadata={"k": "v"}
    )
    assert (put.size, put.checksum) == (100, hashlib.md5(data).hexdigest())
    stat = engine.stat_object(repo, "main", "images/a.bin")
    assert (stat.size, stat.checksum, stat.content_type, dict(stat.metadata)) == (
        100,
        put.checksum,
        "image/png",
        {"k": "v"},
    )
    assert read(engine, repo, "main", "images/a.bin") == data
    assert read(engine, repo, "main", "images/a.bin", start=5, end=15) == data[5:15]
    engine.put_object(repo, "main", "labels/a.json", b"{}", content_type="application/json")
    listing = engine.list_objects(repo, "main", delimiter="/")
    assert [(type(i).__name__, i.path) for i in listing.items] == [
        ("CommonPrefix", "images/"),
        ("CommonPrefix", "labels/"),
    ]
    assert all(isinstance(i, CommonPrefix) for i in listing.items)
    with pytest.raises(e.PreconditionFailedError):
        engine.put_object(repo, "main", "labels/a.json", b"x", if_absent=True)
    with pytest.raises(e.NotFoundError):
        engine.stat_object(repo, "main", "nope")


def test_commit_rules(engine: DatasetStore, repo: str) -> None:
    with pytest.raises(e.NoChangesError):
        engine.commit(repo, "main", "nothing")
    empty = engine.commit(repo, "main", "empty on purpose", allow_empty=True)
    assert empty.message == "empty on purpose"
    engine.put_object(repo, "main", "a.txt", b"a")
    assert [(d.type, d.path) for d in engine.diff_uncommitted(repo, "main")] == [("added", "a.txt")]
    made = engine.commit(repo, "main", "add a", metadata={"run": "7"})
    assert dict(engine.get_commit(repo, made.id).metadata) == {"run": "7"}
    assert engine.diff_uncommitted(repo, "main") == []
    assert engine.resolve(repo, "main") == made.id
    assert engine.resolve(repo, "main~1") == empty.id


def test_branch_relabel_merge(engine: DatasetStore, repo: str) -> None:
    engine.put_object(
        repo, "main", "labels/1.json", b'{"l": "dress"}', content_type="application/json"
    )
    engine.put_object(
        repo, "main", "labels/2.json", b'{"l": "coat"}', content_type="application/json"
    )
    engine.commit(repo, "main", "labels")
    engine.create_branch(repo, "relabel", "main")
    engine.put_object(
        repo, "relabel", "labels/1.json", b'{"l": "skirt"}', content_type="application/json"
    )
    engine.delete_object(repo, "relabel", "labels/2.json")
    engine.commit(repo, "relabel", "relabel")
    diff = engine.diff(repo, "main", "relabel")
    assert [(d.type, d.path) for d in diff] == [
        ("changed", "labels/1.json"),
        ("removed", "labels/2.json"),
    ]
    merged = engine.merge(repo, "relabel", "main", message="merge relabel")
    assert len(merged.parents) == 2
    assert state(engine, repo, "main") == state(engine, repo, "relabel")
    with pytest.raises(e.NoChangesError):
        engine.merge(repo, "relabel", "main")


def test_conflicts_strategies_and_dirty_destination(engine: DatasetStore, repo: str) -> None:
    engine.put_object(repo, "main", "x.json", b"base")
    engine.put_object(repo, "main", "y.json", b"base")
    engine.commit(repo, "main", "base")
    engine.create_branch(repo, "a", "main")
    for branch, value in (("a", b"from a"), ("main", b"from main")):
        engine.put_object(repo, branch, "x.json", value)
        engine.put_object(repo, branch, "y.json", value)
        engine.commit(repo, branch, f"change on {branch}")
    with pytest.raises(e.MergeConflictError) as conflict:
        engine.merge(repo, "a", "main")
    assert conflict.value.paths == ["x.json", "y.json"]
    engine.put_object(repo, "main", "dirty.txt", b"d")
    with pytest.raises(e.DirtyBranchError):
        engine.merge(repo, "a", "main", strategy="source-wins")
    engine.reset_changes(repo, "main")
    engine.merge(repo, "a", "main", strategy="dest-wins", allow_empty=True)
    assert read(engine, repo, "main", "x.json") == b"from main"
    engine.put_object(repo, "a", "x.json", b"again a")
    engine.commit(repo, "a", "again")
    engine.put_object(repo, "main", "x.json", b"again main")
    engine.commit(repo, "main", "again")
    squashed = engine.merge(repo, "a", "main", strategy="source-wins", squash=True)
    assert len(squashed.parents) == 1
    assert read(engine, repo, "main", "x.json") == b"again a"


def test_revert_hard_reset_and_tags(engine: DatasetStore, repo: str) -> None:
    engine.put_object(repo, "main", "a.txt", b"v1")
    v1 = engine.commit(repo, "main", "v1")
    engine.put_object(repo, "main", "a.txt", b"v2")
    engine.put_object(repo, "main", "b.txt", b"new")
    bad = engine.commit(repo, "main", "bad")
    engine.revert(repo, "main", bad.id)
    assert read(engine, repo, "main", "a.txt") == b"v1"
    with pytest.raises(e.NotFoundError):
        engine.stat_object(repo, "main", "b.txt")

    engine.create_tag(repo, "eval-v1", bad.id)
    assert engine.get_tag(repo, "eval-v1").commit_id == bad.id
    with pytest.raises(e.AlreadyExistsError):
        engine.create_tag(repo, "eval-v1", "main")
    assert read(engine, repo, "eval-v1", "b.txt") == b"new"
    assert [t.name for t in engine.list_tags(repo)] == ["eval-v1"]

    engine.put_object(repo, "main", "dirty.txt", b"d")
    with pytest.raises(e.DirtyBranchError):
        engine.hard_reset(repo, "main", v1.id)
    engine.reset_changes(repo, "main", "object", "dirty.txt")
    moved = engine.hard_reset(repo, "main", v1.id)
    assert moved.commit_id == v1.id
    assert read(engine, repo, "main", "a.txt") == b"v1"
    engine.delete_tag(repo, "eval-v1")
    assert engine.list_tags(repo) == []


def test_protection_copy_and_settings(engine: DatasetStore, repo: str) -> None:
    engine.put_object(repo, "main", "src/a.txt", b"payload", content_type="text/plain")
    engine.commit(repo, "main", "src")
    copied = engine.copy_object(repo, "main", "src/a.txt", "dst/a.txt")
    assert (copied.size, copied.content_type) == (7, "text/plain")
    assert read(engine, repo, "main", "dst/a.txt") == b"payload"
    engine.commit(repo, "main", "copy")

    with pytest.raises(e.ProtectedBranchError):
        engine.delete_branch(repo, "main")
    engine.create_branch(repo, "feature", "main")
    engine.set_branch_protection(repo, ["main"])
    assert engine.get_branch_protection(repo) == ["main"]
    with pytest.raises(e.ProtectedBranchError):
        engine.put_object(repo, "main", "x.txt", b"x")
    engine.put_object(repo, "feature", "x.txt", b"x")
    engine.commit(repo, "feature", "x")
    engine.merge(repo, "feature", "main")  # merges into a protected branch are allowed
    assert read(engine, repo, "main", "x.txt") == b"x"

    engine.set_gc_rules(repo, GcRules(default_retention_days=7, branches={"main": 30}))
    rules = engine.get_gc_rules(repo)
    assert (rules.default_retention_days, dict(rules.branches)) == (7, {"main": 30})


def test_cherry_pick_hidden_branches_and_overrides(engine: DatasetStore, repo: str) -> None:
    with pytest.raises(e.NotFoundError):
        engine.get_gc_rules(repo)  # none set yet: lakeFS answers 404
    engine.create_branch(repo, "feature", "main")
    engine.put_object(repo, "feature", "a.txt", b"a")
    picked = engine.commit(repo, "feature", "add a", metadata={"k": "v"})
    engine.put_object(repo, "feature", "b.txt", b"b")
    engine.commit(repo, "feature", "add b")

    made = engine.cherry_pick(repo, "main", picked.id)
    assert (made.message, made.metadata["k"]) == ("add a", "v")
    assert made.metadata["cherry-pick-origin"] == picked.id
    assert set(state(engine, repo, "main")) == {"a.txt"}
    reverted = engine.revert(repo, "main", made.id, message="undo a", metadata={"why": "test"})
    assert (reverted.message, dict(reverted.metadata)) == ("undo a", {"why": "test"})
    assert state(engine, repo, "main") == {}

    engine.create_branch(repo, "ghost", "main", hidden=True)
    assert [b.name for b in engine.list_branches(repo)] == ["feature", "main"]
    shown = engine.list_branches(repo, show_hidden=True)
    assert [b.name for b in shown] == ["feature", "ghost", "main"]

    for path in ("d/1.txt", "d/2.txt", "top.txt"):
        engine.put_object(repo, "main", path, b"x")
    grouped = engine.diff_uncommitted(repo, "main", delimiter="/")
    assert [(d.type, d.path) for d in grouped] == [("prefix_changed", "d/"), ("added", "top.txt")]


def test_import_by_reference(engine: DatasetStore, repo: str, service: Service) -> None:
    if is_real(engine):
        pytest.skip("the source prefix lives on this service's store")
    prefix = unique("src")
    service.datasets_folder.put(f"{prefix}/x/1.json", b"one", content_type="application/json")
    service.datasets_folder.put(f"{prefix}/x/2.json", b"two", content_type="application/json")
    made = engine.import_prefix(repo, "main", f"local://{prefix}/x/", "raw/", message="import")
    assert made.message == "import"
    assert sorted(state(engine, repo, "main")) == ["raw/1.json", "raw/2.json"]
    assert read(engine, repo, "main", "raw/2.json") == b"two"
