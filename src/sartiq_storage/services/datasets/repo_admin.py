"""lakeFS's repository administration calls the native engine serves beside the protocol:
repository metadata, rewriting an object's user metadata, the committed tree's files
(``getMetaRange``/``getRange``/``getMetadataObject``) and the refs dump and restore.

They take the :class:`~.engine.NativeDatasetEngine` itself: a real lakeFS behind
``LAKEFS_ENDPOINT`` has its own, so :class:`~sartiq_storage.core.datasets.protocol.DatasetStore`
stays the surface both engines share.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import (
    InvalidArgumentError,
    NotFoundError,
)
from sartiq_storage.core.datasets.model import Commit
from sartiq_storage.services.datasets.branches import new_token
from sartiq_storage.services.datasets.engine import NativeDatasetEngine
from sartiq_storage.services.datasets.records import (
    BranchRecord,
    RepoRecord,
    decode_commit,
    dumps,
    encode_commit,
    loads,
)

MetadataKind = Literal["range", "meta_range"]
REFS_FORMAT = "sartiq-refs-v1"
_DUMP_KINDS = ("commits", "branches", "tags")


# -- repository metadata --------------------------------------------------------------------


def get_repository_metadata(engine: NativeDatasetEngine, repo: str) -> dict[str, str]:
    r = engine.repos.get(repo)
    data = engine.kv.get(r.partition, "settings/metadata")
    return {} if data is None else {str(k): str(v) for k, v in loads(data).items()}


def set_repository_metadata(
    engine: NativeDatasetEngine, repo: str, metadata: Mapping[str, str]
) -> None:
    """Adds or replaces the given keys and keeps the others (lakeFS's merge); nothing given,
    nothing done, though a missing repository is still 404."""
    r = engine.repos.get(repo)
    if not metadata:
        return
    merged = {**get_repository_metadata(engine, repo), **metadata}
    engine.kv.set(r.partition, "settings/metadata", dumps(merged))


def delete_repository_metadata(engine: NativeDatasetEngine, repo: str, keys: Sequence[str]) -> None:
    """Drops the keys; absent ones are not an error (lakeFS deletes from a map)."""
    r = engine.repos.get(repo)
    if not keys:
        return
    kept = {k: v for k, v in get_repository_metadata(engine, repo).items() if k not in set(keys)}
    engine.kv.set(r.partition, "settings/metadata", dumps(kept))


# -- object user metadata -------------------------------------------------------------------


def update_object_user_metadata(
    engine: NativeDatasetEngine, repo: str, branch: str, path: str, metadata: Mapping[str, str]
) -> None:
    """Rewrites all of the object's user metadata, as lakeFS's ``Store.Update``: the entry is
    staged again with the same bytes, so the branch shows it as changed until committed."""
    entry = engine.stat_object(repo, branch, path)
    engine.stage_entries(repo, branch, [replace(entry, metadata=dict(sorted(metadata.items())))])


# -- the committed tree's files -------------------------------------------------------------


def metadata_key(engine: NativeDatasetEngine, repo: str, kind: MetadataKind, object_id: str) -> str:
    """The store key of a range or metarange file of ``repo``; NotFoundError if absent."""
    r = engine.repos.get(repo)
    if not object_id or "/" in object_id or object_id in (".", ".."):
        raise NotFoundError(f"{kind} {object_id!r} not found")
    store, prefix = engine.stores.resolve(r.namespace_key)
    if kind == "meta_range":
        key = engine.committed.metarange_key(prefix, object_id)
    else:
        key = engine.committed.range_key(prefix, object_id)
    if not store.exists(key):
        raise NotFoundError(f"{kind.replace('_', '')} {object_id!r} not found")
    return key


def metadata_location(
    engine: NativeDatasetEngine, repo: str, kind: MetadataKind, object_id: str
) -> str:
    """The file's URI under the repository's storage namespace (what lakeFS answers: the
    namespace plus the file's relative identifier)."""
    key = metadata_key(engine, repo, kind, object_id)
    r = engine.repos.get(repo)
    relative = key[len(engine.stores.resolve(r.namespace_key)[1]) :].lstrip("/")
    return f"{r.repository.storage_namespace.rstrip('/')}/{relative}"


def read_metadata_object(
    engine: NativeDatasetEngine, repo: str, kind: MetadataKind, object_id: str
) -> tuple[int, Iterator[bytes]]:
    """Length and bytes of a range or metarange file, streamed from the store."""
    key = metadata_key(engine, repo, kind, object_id)
    stream = _store(engine, engine.repos.get(repo)).get(key)
    return stream.length, iter(stream)


# -- refs dump and restore ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefsDump:
    commits_meta_range_id: str
    branches_meta_range_id: str
    tags_meta_range_id: str


def _store(engine: NativeDatasetEngine, r: RepoRecord) -> ObjectStore:
    """The store ``r``'s namespace is on (its own bucket, the datasets folder…)."""
    return engine.stores.resolve(r.namespace_key)[0]


def _prefix(engine: NativeDatasetEngine, r: RepoRecord) -> str:
    return engine.stores.resolve(r.namespace_key)[1]


def _dump_key(engine: NativeDatasetEngine, r: RepoRecord, dump_id: str) -> str:
    return f"{_prefix(engine, r)}/_meta/refs/{dump_id}"


def manifest_key(engine: NativeDatasetEngine, r: RepoRecord) -> str:
    """Where the last dump's ids are written (lakeFS: ``_lakefs/refs_manifest.json``)."""
    return f"{_prefix(engine, r)}/_meta/refs_manifest.json"


def _write_dump(engine: NativeDatasetEngine, r: RepoRecord, kind: str, rows: list[object]) -> str:
    """One content-addressed file per kind, in the namespace beside the ranges (outside the
    ``ranges``/``metaranges`` folders GC sweeps)."""
    data = dumps({"format": REFS_FORMAT, "kind": kind, "rows": rows})
    dump_id = hashlib.sha256(data).hexdigest()
    key = _dump_key(engine, r, dump_id)
    store = _store(engine, r)
    if not store.exists(key):
        store.put(key, data, content_type="application/json")
    return dump_id


def dump_refs(engine: NativeDatasetEngine, repo: str) -> RefsDump:
    """Every commit, branch and tag of ``repo`` into the namespace, and the manifest naming
    them: what ``restoreRefs`` reads back, here or in another installation on the same store."""
    r = engine.repos.get(repo)
    commits = sorted(engine.refs.commits(r), key=lambda c: (c.generation, c.id))
    branches = sorted(engine.refs.branch_records(r), key=lambda item: item[0])
    tags = [
        (key[len("tags/") :], loads(data)) for key, data in engine.kv.scan(r.partition, "tags/")
    ]
    dump = RefsDump(
        commits_meta_range_id=_write_dump(
            engine, r, "commits", [loads(encode_commit(c)) for c in commits]
        ),
        branches_meta_range_id=_write_dump(
            engine,
            r,
            "branches",
            [{"name": n, "commit_id": b.commit_id, "hidden": b.hidden} for n, b in branches],
        ),
        tags_meta_range_id=_write_dump(
            engine, r, "tags", [{"name": n, "commit_id": _tag_target(v)} for n, v in tags]
        ),
    )
    manifest = json.dumps(
        {
            "commits_meta_range_id": dump.commits_meta_range_id,
            "tags_meta_range_id": dump.tags_meta_range_id,
            "branches_meta_range_id": dump.branches_meta_range_id,
        },
        indent=2,
    ).encode()
    _store(engine, r).put(manifest_key(engine, r), manifest, content_type="application/json")
    return dump


def _tag_target(value: object) -> str:
    """A tag record's commit id (stored as a bare JSON string or as ``{"commit_id": …}``)."""
    if isinstance(value, dict):
        return str(value["commit_id"])
    return str(value)


def _read_dump(engine: NativeDatasetEngine, r: RepoRecord, kind: str, dump_id: str) -> list[dict]:  # type: ignore[type-arg]
    key = _dump_key(engine, r, dump_id)
    store = _store(engine, r)
    if not dump_id or "/" in dump_id or not store.exists(key):
        raise NotFoundError(f"{kind} dump {dump_id!r} not found")
    data = store.get_bytes(key)
    if hashlib.sha256(data).hexdigest() != dump_id:
        raise InvalidArgumentError(f"{kind} dump {dump_id!r} does not match its id")
    document = loads(data)
    if document.get("format") != REFS_FORMAT or document.get("kind") != kind:
        raise InvalidArgumentError(f"{dump_id!r} is not a {kind} dump")
    return list(document["rows"])


BARE_ONLY = "can only restore into a bare repository"
"""lakeFS's words for a restore into a repository that has its default branch."""


def is_bare(engine: NativeDatasetEngine, repo: str) -> bool:
    r = engine.repos.get(repo)
    return engine.refs.branch(r, r.repository.default_branch) is None


def restore_refs(engine: NativeDatasetEngine, repo: str, dump: RefsDump) -> None:
    """Loads a dump into a bare repository (no default branch yet), checked whole before
    anything is written: every branch and tag must name a dumped commit."""
    r = engine._writable_repo(repo)
    if engine.refs.branch(r, r.repository.default_branch) is not None:
        raise InvalidArgumentError(BARE_ONLY)
    commits: list[Commit] = [
        decode_commit(dumps(row))
        for row in _read_dump(engine, r, "commits", dump.commits_meta_range_id)
    ]
    branches = _read_dump(engine, r, "branches", dump.branches_meta_range_id)
    tags = _read_dump(engine, r, "tags", dump.tags_meta_range_id)
    known = {c.id for c in commits}
    for ref in (*branches, *tags):
        if ref["commit_id"] not in known:
            raise InvalidArgumentError(
                f"{ref['name']!r} names commit {ref['commit_id']} not in the dump"
            )
    for metarange_id in sorted({c.meta_range_id for c in commits}):
        # The trees must be in this namespace: a dump restored elsewhere would name none.
        metarange = engine.committed.metarange_key(_prefix(engine, r), metarange_id)
        if not _store(engine, r).exists(metarange):
            raise InvalidArgumentError(
                f"metarange {metarange_id} is not in storage namespace "
                f"{r.repository.storage_namespace!r}: restore on the namespace that was dumped"
            )
    for commit in commits:
        engine.kv.set(r.partition, f"commits/{commit.id}", encode_commit(commit))
    for tag in tags:
        engine.refs.set_tag(r, str(tag["name"]), str(tag["commit_id"]), force=True)
    for branch in branches:
        record = BranchRecord(str(branch["commit_id"]), new_token(), hidden=bool(branch["hidden"]))
        engine.kv.set(r.partition, f"branches/{branch['name']}", record.encode())
