"""Repository administration beside the protocol: metadata, user metadata rewrites, the
committed tree's files and the refs dump and restore, on every KV and store backend."""

from __future__ import annotations

import pytest

from sartiq_storage.core.datasets.errors import InvalidArgumentError, NotFoundError
from sartiq_storage.core.datasets.ranges import decode_metarange
from sartiq_storage.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets import repo_admin as admin


def test_dump_restores_every_ref_into_a_bare_repository(
    engine: NativeDatasetEngine, repo: str
) -> None:
    engine.put_object(repo, "main", "a.txt", b"a")
    first = engine.commit(repo, "main", "a")
    engine.create_branch(repo, "dev", "main", hidden=True)
    engine.put_object(repo, "dev", "b.txt", b"b")
    second = engine.commit(repo, "dev", "b")
    engine.create_tag(repo, "v1", first.id)
    dump = admin.dump_refs(engine, repo)
    namespace = engine.get_repository(repo).storage_namespace
    key_prefix = engine.repos.get(repo).namespace_key
    history = [c.id for c in engine.log(repo, "dev")]

    with pytest.raises(InvalidArgumentError, match=admin.BARE_ONLY):
        admin.restore_refs(engine, repo, dump)
    engine.delete_repository(repo)
    engine.create_repository(repo, namespace, bare=True)
    assert admin.is_bare(engine, repo)
    with pytest.raises(NotFoundError):
        admin.restore_refs(engine, repo, admin.RefsDump("0" * 64, "0" * 64, "0" * 64))
    engine.create_repository("elsewhere", "datasets/elsewhere", bare=True)
    with pytest.raises(NotFoundError):  # the dump lives in the namespace it was made in
        admin.restore_refs(engine, "elsewhere", dump)
    elsewhere = engine.repos.get("elsewhere").namespace_key
    for info in list(engine.store.list(f"{key_prefix}/_meta/refs/")):
        copied = info.key.replace(key_prefix, elsewhere, 1)
        engine.store.put(copied, engine.store.get_bytes(info.key))
    with pytest.raises(InvalidArgumentError, match="restore on the namespace that was dumped"):
        admin.restore_refs(engine, "elsewhere", dump)  # its trees are not there
    assert admin.is_bare(engine, "elsewhere")
    admin.restore_refs(engine, repo, dump)

    assert [c.id for c in engine.log(repo, "dev")] == history
    assert engine.get_branch(repo, "dev").commit_id == second.id
    assert engine.list_branches(repo) == [engine.get_branch(repo, "main")]  # dev stays hidden
    assert engine.get_tag(repo, "v1").commit_id == first.id
    assert b"".join(engine.get_object(repo, "dev", "b.txt")) == b"b"


def test_metadata_and_tree_files(memory_engine: NativeDatasetEngine) -> None:
    engine = memory_engine
    engine.create_repository("rep", "datasets/rep")
    admin.set_repository_metadata(engine, "rep", {"a": "1", "b": "2"})
    admin.delete_repository_metadata(engine, "rep", ["a"])
    assert admin.get_repository_metadata(engine, "rep") == {"b": "2"}

    engine.put_object("rep", "main", "x", b"x", metadata={"old": "1"})
    commit = engine.commit("rep", "main", "x")
    admin.update_object_user_metadata(engine, "rep", "main", "x", {"new": "2"})
    assert engine.stat_object("rep", "main", "x").metadata == {"new": "2"}
    assert engine.stat_object("rep", commit.id, "x").metadata == {"old": "1"}

    location = admin.metadata_location(engine, "rep", "meta_range", commit.meta_range_id)
    assert location == f"datasets/rep/_meta/metaranges/{commit.meta_range_id}"
    length, chunks = admin.read_metadata_object(engine, "rep", "meta_range", commit.meta_range_id)
    data = b"".join(chunks)
    assert len(data) == length
    assert decode_metarange(data)[0].count == 1
    with pytest.raises(NotFoundError):
        admin.metadata_location(engine, "rep", "range", "../metaranges")
