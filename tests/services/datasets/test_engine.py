"""Engine behaviour on every backend: lakeFS semantics, asserted on logical state."""

from __future__ import annotations

import time

import pytest

from sartiq_storage.core.datasets.model import CommonPrefix, GcRules
from sartiq_storage.datasets import (
    AlreadyExistsError,
    DirtyBranchError,
    GoneError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidRefError,
    MergeConflictError,
    NativeDatasetEngine,
    NoChangesError,
    NotFoundError,
    PreconditionFailedError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
)
from tests.support.datasets import paths, read, snapshot

E = NativeDatasetEngine


def test_repository_creation(engine: E) -> None:
    repo = engine.create_repository("ds-one", "datasets/ds-one", default_branch="trunk")
    assert repo.default_branch == "trunk"
    [commit] = engine.log("ds-one", "trunk")
    assert commit.message == "Repository created"
    assert commit.parents == ()
    assert [b.name for b in engine.list_branches("ds-one")] == ["trunk"]
    assert [r.name for r in engine.list_repositories()] == ["ds-one"]
    with pytest.raises(AlreadyExistsError):
        engine.create_repository("ds-one", "datasets/other")
    with pytest.raises(InvalidArgumentError, match="repository 'ds-one'"):  # lakeFS: 400 too
        engine.create_repository("ds-two", "datasets/ds-one/nested")
    with pytest.raises(InvalidNameError):
        engine.create_repository("X", "datasets/x")
    with pytest.raises(NotFoundError):
        engine.get_repository("nope")
    engine.delete_repository("ds-one")
    with pytest.raises(NotFoundError):
        engine.get_repository("ds-one")


def test_branch_reads_include_staged_and_at_excludes_them(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a.txt", b"one", content_type="text/plain", metadata={"k": "v"})
    engine.commit(repo, "main", "one")
    engine.put_object(repo, "main", "a.txt", b"two")
    engine.put_object(repo, "main", "b.txt", b"bee")
    engine.delete_object(repo, "main", "a.txt")
    assert paths(engine, repo, "main") == ["b.txt"]
    assert paths(engine, repo, "main@") == ["a.txt"]
    assert read(engine, repo, "main@", "a.txt") == b"one"
    stat = engine.stat_object(repo, "main@", "a.txt")
    assert (stat.size, stat.content_type, dict(stat.metadata)) == (3, "text/plain", {"k": "v"})
    assert stat.checksum == "f97c5d29941bfb1b2fdab0874906ab82"  # md5("one")
    with pytest.raises(NotFoundError):
        engine.stat_object(repo, "main", "a.txt")
    with pytest.raises(NotFoundError):
        engine.delete_object(repo, "main", "missing")
    assert read(engine, repo, "main", "b.txt") == b"bee"
    assert b"".join(engine.get_object(repo, "main", "b.txt", start=1, end=3)) == b"ee"


def test_kept_commits_belong_to_one_repository_instance(engine: E, repo: str) -> None:
    """Commits are kept in memory once read (they never change); a repository deleted and
    created again under the same name starts with none of the old one's."""
    engine.put_object(repo, "main", "a", b"1")
    old = engine.commit(repo, "main", "c1")
    assert engine.resolve(repo, old.id) == old.id
    assert engine.get_commit(repo, old.id) == old
    engine.delete_repository(repo)
    engine.create_repository(repo, f"datasets/{repo}-again")
    with pytest.raises(NotFoundError):
        engine.resolve(repo, old.id)
    with pytest.raises(NotFoundError):
        engine.get_commit(repo, old.id)


def test_branch_sources_resolve_in_lakefs_order_and_follow_a_recreated_repository(
    engine: E, repo: str
) -> None:
    """A branch source named like a branch is read together with the repository (one round
    trip on DynamoDB, the partition guessed from an earlier read and checked): a repository
    deleted and created again under the same name by another engine is followed, and every
    other kind of source still resolves."""
    engine.put_object(repo, "main", "a", b"1")
    first = engine.commit(repo, "main", "c1")
    engine.create_tag(repo, "v1", first.id)
    engine.put_object(repo, "main", "a", b"2")
    second = engine.commit(repo, "main", "c2")
    assert engine.create_branch(repo, "from-branch", "main").commit_id == second.id
    assert engine.create_branch(repo, "from-tag", "v1").commit_id == first.id
    assert engine.create_branch(repo, "from-id", first.id).commit_id == first.id
    assert engine.create_branch(repo, "from-parent", "main~1").commit_id == first.id
    with pytest.raises(NotFoundError):
        engine.create_branch(repo, "from-nothing", "no-such-branch")
    with pytest.raises(AlreadyExistsError):
        engine.create_branch(repo, "from-branch", "main")

    other = NativeDatasetEngine(engine.kv, engine.store)
    other.delete_repository(repo)
    with pytest.raises(NotFoundError):
        engine.create_branch(repo, "gone", "main")
    other.create_repository(repo, f"datasets/{repo}-again")
    fresh = engine.create_branch(repo, "from-branch", "main")  # the new repository's main
    assert fresh.commit_id == other.get_branch(repo, "main").commit_id != second.id
    assert [b.name for b in other.list_branches(repo)] == ["from-branch", "main"]


def test_branch_heads_and_staging_are_read_fresh_across_engines(engine: E, repo: str) -> None:
    """A second engine on the same metadata (another process: the API beside the S3
    gateway) sees every commit and staged write of the first at once: only commits, which
    never change, are kept in memory, never a branch head or a staged entry."""
    other = NativeDatasetEngine(engine.kv, engine.store)
    engine.put_object(repo, "main", "a", b"1")
    assert read(other, repo, "main", "a") == b"1"
    first = engine.commit(repo, "main", "c1")
    assert other.get_branch(repo, "main").commit_id == first.id
    engine.put_object(repo, "main", "a", b"22")
    assert read(other, repo, "main", "a") == b"22"
    assert other.open_object(repo, "main", "a").entry.size == 2
    second = engine.commit(repo, "main", "c2")
    assert other.resolve(repo, "main") == second.id
    assert other.create_branch(repo, "feat", "main").commit_id == second.id
    found = other.open_object(repo, f"{first.id}", "a")
    assert b"".join(found.read(None, None)) == b"1"
    assert b"".join(found.read(0, 1)) == b"1"


def test_branch_is_o1_and_sees_source_committed_state(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    base = engine.commit(repo, "main", "c1")
    engine.put_object(repo, "main", "staged", b"x")
    engine.committed.reset_counters()
    branch = engine.create_branch(repo, "feat", "main")
    assert engine.committed.ranges_read == engine.committed.ranges_written == 0
    assert branch.commit_id == base.id
    assert paths(engine, repo, "feat") == ["a"]
    with pytest.raises(AlreadyExistsError):
        engine.create_branch(repo, "feat", "main")
    with pytest.raises(InvalidNameError):
        engine.create_branch(repo, "a/b", "main")
    with pytest.raises(ProtectedBranchError):
        engine.delete_branch(repo, "main")
    engine.delete_branch(repo, "feat")
    with pytest.raises(NotFoundError):
        engine.get_branch(repo, "feat")


def test_commit_and_no_changes(engine: E, repo: str) -> None:
    with pytest.raises(NoChangesError):
        engine.commit(repo, "main", "nothing")
    empty = engine.commit(repo, "main", "empty", allow_empty=True, metadata={"x": "1"})
    assert dict(empty.metadata) == {"x": "1"}
    assert engine.get_commit(repo, empty.id) == empty
    engine.put_object(repo, "main", "a", b"1", metadata={"m": "1"})
    engine.commit(repo, "main", "a")
    engine.put_object(repo, "main", "a", b"1", metadata={"m": "1"})  # identical rewrite
    assert engine.diff_uncommitted(repo, "main") == []
    with pytest.raises(NoChangesError):
        engine.commit(repo, "main", "same again")
    assert engine.diff_uncommitted(repo, "main") == []


def test_put_if_absent_and_copy(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    with pytest.raises(PreconditionFailedError):
        engine.put_object(repo, "main", "a", b"2", if_absent=True)
    copied = engine.copy_object(repo, "main", "a", "b")
    assert copied.address == engine.stat_object(repo, "main", "a").address
    assert read(engine, repo, "main", "b") == b"1"


def test_diff_by_identity(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "keep", b"k")
    engine.put_object(repo, "main", "change", b"c1")
    engine.put_object(repo, "main", "remove", b"r")
    engine.put_object(repo, "main", "meta", b"m", metadata={"a": "1"})
    left = engine.commit(repo, "main", "left")
    engine.put_object(repo, "main", "keep", b"k")
    engine.put_object(repo, "main", "change", b"c2")
    engine.delete_object(repo, "main", "remove")
    engine.put_object(repo, "main", "add", b"a")
    engine.put_object(repo, "main", "meta", b"m", metadata={"a": "2"})
    uncommitted = {(d.type, d.path) for d in engine.diff_uncommitted(repo, "main")}
    expected = {
        ("added", "add"),
        ("changed", "change"),
        ("removed", "remove"),
        ("changed", "meta"),
    }
    assert uncommitted == expected
    right = engine.commit(repo, "main", "right")
    assert {(d.type, d.path) for d in engine.diff(repo, left.id, right.id, mode="two_dot")} == (
        expected
    )
    assert {(d.type, d.path) for d in engine.diff(repo, left.id, right.id)} == expected
    assert engine.diff(repo, right.id, right.id) == []
    assert [d.path for d in engine.diff(repo, left.id, right.id, amount=2)] == ["add", "change"]
    assert [d.path for d in engine.diff(repo, left.id, right.id, after="change")] == [
        "meta",
        "remove",
    ]


def test_listing_with_delimiter_and_paging(engine: E, repo: str) -> None:
    for p in ["a/1", "a/2", "b/x/1", "c", "d/1"]:
        engine.put_object(repo, "main", p, p.encode())
    engine.commit(repo, "main", "files")
    engine.put_object(repo, "main", "a/3", b"3")
    page = engine.list_objects(repo, "main", delimiter="/")
    assert [(type(i).__name__, i.path) for i in page.items] == [
        ("CommonPrefix", "a/"),
        ("CommonPrefix", "b/"),
        ("Entry", "c"),
        ("CommonPrefix", "d/"),
    ]
    first = engine.list_objects(repo, "main", delimiter="/", amount=2)
    assert first.has_more
    assert first.next_offset == "b/"
    rest = engine.list_objects(repo, "main", delimiter="/", after=first.next_offset)
    assert [i.path for i in rest.items] == ["c", "d/"]
    inner = engine.list_objects(repo, "main", prefix="a/")
    assert [i.path for i in inner.items] == ["a/1", "a/2", "a/3"]
    assert not any(isinstance(i, CommonPrefix) for i in inner.items)


def _diverge(engine: E, repo: str) -> None:
    for name in ["same", "src-only", "dst-only", "both-same", "conflict", "src-del", "dst-del"]:
        engine.put_object(repo, "main", name, b"base")
    engine.put_object(repo, "main", "del-vs-change", b"base")
    engine.put_object(repo, "main", "change-vs-del", b"base")
    engine.commit(repo, "main", "base")
    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "src-only", b"S")
    engine.put_object(repo, "feat", "both-same", b"same")
    engine.put_object(repo, "feat", "conflict", b"S")
    engine.delete_object(repo, "feat", "src-del")
    engine.delete_object(repo, "feat", "del-vs-change")
    engine.put_object(repo, "feat", "change-vs-del", b"S")
    engine.put_object(repo, "feat", "added-both", b"S")
    engine.commit(repo, "feat", "source side")
    engine.put_object(repo, "main", "dst-only", b"D")
    engine.put_object(repo, "main", "both-same", b"same")
    engine.put_object(repo, "main", "conflict", b"D")
    engine.delete_object(repo, "main", "dst-del")
    engine.put_object(repo, "main", "del-vs-change", b"D")
    engine.delete_object(repo, "main", "change-vs-del")
    engine.put_object(repo, "main", "added-both", b"D")
    engine.commit(repo, "main", "dest side")


CONFLICTS = ["added-both", "change-vs-del", "conflict", "del-vs-change"]


def test_merge_conflicts_are_all_listed(engine: E, repo: str) -> None:
    _diverge(engine, repo)
    head = engine.get_branch(repo, "main").commit_id
    with pytest.raises(MergeConflictError) as info:
        engine.merge(repo, "feat", "main")
    assert info.value.paths == CONFLICTS
    assert engine.get_branch(repo, "main").commit_id == head
    three_dot = engine.diff(repo, "main", "feat")
    assert sorted(d.path for d in three_dot if d.type == "conflict") == CONFLICTS


@pytest.mark.parametrize("strategy", ["source-wins", "dest-wins"])
def test_merge_strategies(engine: E, repo: str, strategy: str) -> None:
    _diverge(engine, repo)
    merged = engine.merge(repo, "feat", "main", strategy=strategy)  # type: ignore[arg-type]
    assert merged.metadata[".lakefs.merge.strategy"] == strategy
    state = snapshot(engine, repo, "main")
    common = {
        "same": b"base",
        "src-only": b"S",
        "dst-only": b"D",
        "both-same": b"same",
    }
    for path, value in common.items():
        assert state[path] == value
    assert "src-del" not in state
    assert "dst-del" not in state
    if strategy == "source-wins":
        assert state["conflict"] == b"S"
        assert state["added-both"] == b"S"
        assert "del-vs-change" not in state
        assert state["change-vs-del"] == b"S"
    else:
        assert state["conflict"] == b"D"
        assert state["added-both"] == b"D"
        assert state["del-vs-change"] == b"D"
        assert "change-vs-del" not in state


def test_merge_resolutions_and_parents(engine: E, repo: str) -> None:
    _diverge(engine, repo)
    source = engine.get_branch(repo, "feat").commit_id
    dest = engine.get_branch(repo, "main").commit_id
    resolutions = {p: "source" for p in CONFLICTS} | {"conflict": "dest"}
    merged = engine.merge(repo, "feat", "main", resolutions=resolutions)  # type: ignore[arg-type]
    assert merged.parents == (dest, source)
    assert read(engine, repo, "main", "conflict") == b"D"
    assert read(engine, repo, "main", "added-both") == b"S"
    assert engine.resolve(repo, f"{merged.id}^2") == source
    assert engine.resolve(repo, f"{merged.id[:10]}^1") == dest
    with pytest.raises(NoChangesError):
        engine.merge(repo, "feat", "main")
    with pytest.raises(InvalidArgumentError):
        engine.merge(repo, "feat", "main", strategy="ours")  # type: ignore[arg-type]


def test_merge_into_dirty_branch_and_squash(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    engine.commit(repo, "main", "a")
    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "b", b"2")
    engine.commit(repo, "feat", "b")
    engine.put_object(repo, "main", "dirty", b"x")
    with pytest.raises(DirtyBranchError):
        engine.merge(repo, "feat", "main")
    engine.reset_changes(repo, "main")
    dest = engine.get_branch(repo, "main").commit_id
    squashed = engine.merge(repo, "feat", "main", squash=True, message="squash")
    assert squashed.parents == (dest,)
    assert squashed.message == "squash"
    assert paths(engine, repo, "main") == ["a", "b"]


def test_merge_uses_committed_state_of_source_branch(engine: E, repo: str) -> None:
    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "committed", b"1")
    engine.commit(repo, "feat", "c")
    engine.put_object(repo, "feat", "staged", b"2")
    engine.merge(repo, "feat", "main")
    assert paths(engine, repo, "main") == ["committed"]


def test_revert_and_merge_revert(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    engine.commit(repo, "main", "a1")
    engine.put_object(repo, "main", "a", b"2")
    engine.put_object(repo, "main", "b", b"new")
    bad = engine.commit(repo, "main", "bad")
    engine.put_object(repo, "main", "c", b"later")
    engine.commit(repo, "main", "later")
    reverted = engine.revert(repo, "main", bad.id)
    assert reverted.parents[0] != bad.id
    assert snapshot(engine, repo, "main") == {"a": b"1", "c": b"later"}

    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "f", b"feature")
    engine.commit(repo, "feat", "feature")
    merge = engine.merge(repo, "feat", "main")
    with pytest.raises(InvalidArgumentError):
        engine.revert(repo, "main", merge.id)
    engine.revert(repo, "main", merge.id, parent_number=1)
    assert "f" not in paths(engine, repo, "main")
    engine.put_object(repo, "main", "dirty", b"x")
    with pytest.raises(DirtyBranchError):
        engine.revert(repo, "main", merge.id, parent_number=1)


def test_hard_reset_and_reflog(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    first = engine.commit(repo, "main", "1")
    engine.put_object(repo, "main", "a", b"2")
    second = engine.commit(repo, "main", "2")
    engine.put_object(repo, "main", "dirty", b"x")
    with pytest.raises(DirtyBranchError):
        engine.hard_reset(repo, "main", "main~1")
    engine.hard_reset(repo, "main", "main~1", force=True, actor="ops")
    assert engine.get_branch(repo, "main").commit_id == first.id
    assert read(engine, repo, "main", "a") == b"1"
    assert paths(engine, repo, "main") == ["a"]
    [entry] = engine.reflog(repo, "main")
    assert (entry.previous_commit_id, entry.new_commit_id, entry.actor) == (
        second.id,
        first.id,
        "ops",
    )
    engine.hard_reset(repo, "main", entry.previous_commit_id)  # undo the rollback
    assert read(engine, repo, "main", "a") == b"2"


def test_ref_expressions(engine: E, repo: str) -> None:
    commits = []
    for i in range(3):
        engine.put_object(repo, "main", "a", str(i).encode())
        commits.append(engine.commit(repo, "main", str(i)))
    assert engine.resolve(repo, "main~2") == commits[0].id
    assert engine.resolve(repo, "main~1^1") == commits[0].id
    assert engine.resolve(repo, "main^") == commits[1].id
    assert engine.resolve(repo, commits[2].id[:6]) == commits[2].id
    assert engine.resolve(repo, f"{commits[2].id}~1") == commits[1].id
    assert read(engine, repo, "main~2", "a") == b"0"
    engine.create_tag(repo, "v1", "main~1")
    engine.create_tag(repo, "eval~1", "main")  # '~' is allowed in tag names
    assert engine.resolve(repo, "v1") == commits[1].id
    assert engine.resolve(repo, "v1~1") == commits[0].id
    assert engine.resolve(repo, "eval~1") == commits[2].id
    with pytest.raises(NotFoundError):
        engine.resolve(repo, "nope")
    with pytest.raises(NotFoundError):
        engine.resolve(repo, "main~99")
    with pytest.raises(InvalidRefError):
        engine.resolve(repo, "main~x")


def test_tags(engine: E, repo: str) -> None:
    head = engine.get_branch(repo, "main").commit_id
    engine.create_tag(repo, "v1", "main")
    with pytest.raises(AlreadyExistsError):
        engine.create_tag(repo, "v1", "main")
    with pytest.raises(InvalidNameError):
        engine.create_tag(repo, "bad..tag", "main")
    engine.put_object(repo, "main", "a", b"1")
    engine.commit(repo, "main", "a")
    engine.create_tag(repo, "v1", "main", force=True)
    engine.create_tag(repo, "v0", head)
    assert [t.name for t in engine.list_tags(repo)] == ["v0", "v1"]
    assert paths(engine, repo, "v1") == ["a"]
    assert paths(engine, repo, "v0") == []
    engine.delete_tag(repo, "v0")
    with pytest.raises(NotFoundError):
        engine.get_tag(repo, "v0")


def test_log_with_path_filters(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "images/1.jpg", b"1")
    c1 = engine.commit(repo, "main", "img")
    engine.put_object(repo, "main", "labels/1.json", b"{}")
    c2 = engine.commit(repo, "main", "label")
    engine.put_object(repo, "main", "images/1.jpg", b"2")
    c3 = engine.commit(repo, "main", "img again")
    assert [c.id for c in engine.log(repo, "main", prefixes=["images/"])] == [c3.id, c1.id]
    assert [c.id for c in engine.log(repo, "main", objects=["labels/1.json"])] == [c2.id]
    assert [c.id for c in engine.log(repo, "main", amount=2)] == [c3.id, c2.id]
    assert [c.id for c in engine.log(repo, "main", after=c2.id, amount=1)] == [c1.id]


def test_log_first_parent(engine: E, repo: str) -> None:
    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "f", b"1")
    side = engine.commit(repo, "feat", "side")
    merge = engine.merge(repo, "feat", "main")
    assert side.id in [c.id for c in engine.log(repo, "main")]
    assert side.id not in [c.id for c in engine.log(repo, "main", first_parent=True)]
    assert engine.log(repo, "main")[0].id == merge.id


def test_import_is_zero_copy(engine: E, repo: str) -> None:
    for i in range(3):
        engine.store.put(f"shootify-datasets/x/{i}.jpg", f"img{i}".encode())
    engine.put_object(repo, "main", "imported/old.jpg", b"old")
    engine.put_object(repo, "main", "other", b"o")
    engine.commit(repo, "main", "before")
    engine.put_object(repo, "main", "staged-stays", b"s")
    before = {i.key for i in engine.store.list("datasets/")}
    commit = engine.import_prefix(
        repo, "main", "shootify-datasets/x/", "imported/", message="import x"
    )
    assert commit.message == "import x"
    assert {i.key for i in engine.store.list("datasets/")} - before <= {
        k for k in (i.key for i in engine.store.list("datasets/")) if "/_meta/" in k
    }
    listed = paths(engine, repo, "main@", "imported/")
    assert listed == ["imported/0.jpg", "imported/1.jpg", "imported/2.jpg"]
    entry = engine.stat_object(repo, "main", "imported/1.jpg")
    assert entry.external
    assert entry.address == "shootify-datasets/x/1.jpg"
    assert read(engine, repo, "main", "imported/1.jpg") == b"img1"
    assert paths(engine, repo, "main") == [*listed, "other", "staged-stays"]


def test_gc(engine: E, repo: str) -> None:
    engine.store.put("external/keep.jpg", b"ext")
    engine.import_prefix(repo, "main", "external/", "ext/", message="import")
    engine.put_object(repo, "main", "old", b"old bytes")
    old = engine.commit(repo, "main", "old")
    engine.delete_object(repo, "main", "old")
    engine.put_object(repo, "main", "live", b"live bytes")
    engine.commit(repo, "main", "new")
    engine.put_object(repo, "main", "staged", b"staged bytes")
    engine.set_gc_rules(repo, GcRules(default_retention_days=0))
    assert engine.get_gc_rules(repo).default_retention_days == 0
    engine.clock = lambda: time.time() + 86_400  # a day later: "old" is out of retention

    within_grace = engine.gc(repo, dry_run=False)
    assert within_grace.candidates == ()
    assert within_grace.deleted == 0
    report = engine.gc(repo, grace_seconds=0)
    assert report.dry_run
    assert report.deleted == 0
    old_address = engine.stat_object(repo, old.id, "old").address
    assert report.candidates == (old_address,)
    assert read(engine, repo, old.id, "old") == b"old bytes"
    done = engine.gc(repo, dry_run=False, grace_seconds=0)
    assert done.deleted == 1
    with pytest.raises(GoneError):
        read(engine, repo, old.id, "old")
    assert read(engine, repo, "main", "live") == b"live bytes"
    assert read(engine, repo, "main", "staged") == b"staged bytes"
    assert read(engine, repo, "main", "ext/keep.jpg") == b"ext"
    assert engine.store.exists("external/keep.jpg")


def test_gc_keeps_history_within_retention(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "old", b"old bytes")
    engine.commit(repo, "main", "old")
    engine.delete_object(repo, "main", "old")
    engine.commit(repo, "main", "gone from head")
    assert engine.gc(repo, dry_run=False, grace_seconds=0).deleted == 0  # 21 days by default


def test_protection(engine: E, repo: str) -> None:
    engine.put_object(repo, "main", "a", b"1")
    first = engine.commit(repo, "main", "a")
    engine.create_branch(repo, "feat", "main")
    engine.put_object(repo, "feat", "b", b"2")
    engine.commit(repo, "feat", "b")
    engine.set_branch_protection(repo, ["ma*"])
    assert engine.get_branch_protection(repo) == ["ma*"]
    for forbidden in (
        lambda: engine.put_object(repo, "main", "x", b"x"),
        lambda: engine.delete_object(repo, "main", "a"),
        lambda: engine.commit(repo, "main", "x", allow_empty=True),
        lambda: engine.reset_changes(repo, "main"),
        lambda: engine.hard_reset(repo, "main", "main~1"),
    ):
        with pytest.raises(ProtectedBranchError):
            forbidden()
    merged = engine.merge(repo, "feat", "main")
    engine.revert(repo, "main", merged.id, parent_number=1)
    assert engine.resolve(repo, "main~1") == merged.id
    assert paths(engine, repo, "main") == ["a"]
    assert first.id in [c.id for c in engine.log(repo, "main")]


def test_read_only_repository(engine: E) -> None:
    engine.create_repository("ro-repo", "datasets/ro", read_only=True)
    with pytest.raises(ReadOnlyRepositoryError):
        engine.put_object("ro-repo", "main", "a", b"1")


def test_reset_changes_by_object_and_prefix(engine: E, repo: str) -> None:
    for p in ["a/1", "a/2", "b"]:
        engine.put_object(repo, "main", p, b"x")
    engine.reset_changes(repo, "main", "object", "b")
    assert paths(engine, repo, "main") == ["a/1", "a/2"]
    engine.reset_changes(repo, "main", "common_prefix", "a/")
    assert paths(engine, repo, "main") == []
    with pytest.raises(InvalidArgumentError):
        engine.reset_changes(repo, "main", "object")


def test_content_addressed_dedup(engine: E, repo: str) -> None:
    a = engine.put_object(repo, "main", "a", b"same")
    b = engine.put_object(repo, "main", "b", iter([b"sa", b"me"]))
    assert a.address == b.address
    blobs = [i.key for i in engine.store.list(f"datasets/{repo}/data/")]
    assert blobs == [f"datasets/{repo}/{a.address}"]
