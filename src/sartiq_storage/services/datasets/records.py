"""JSON records the engine keeps in the KV store (never pickle), and the commit id rule."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sartiq_storage.core.datasets.model import Commit, GcRules, ReflogEntry, Repository

GRAVELER = "graveler"
"""The partition of repository records, as in lakeFS."""


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode(
        "utf-8", "surrogatepass"
    )


def loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class RepoRecord:
    repository: Repository
    namespace_key: str
    """The storage namespace, qualified: ``s3://bucket/prefix`` (a bucket of its own),
    ``local://prefix`` (the datasets folder) or a bare prefix on the engine's own store
    (see :class:`~.locations.NamespaceStores`)."""
    uid: str
    """Part of the repository's partition name, so a re-created repository starts empty."""

    @property
    def partition(self) -> str:
        return f"repo/{self.repository.name}/{self.uid}"

    def encode(self) -> bytes:
        r = self.repository
        return dumps(
            {
                "name": r.name,
                "storage_namespace": r.storage_namespace,
                "default_branch": r.default_branch,
                "creation_date": r.creation_date,
                "read_only": r.read_only,
                "namespace_key": self.namespace_key,
                "uid": self.uid,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> RepoRecord:
        d = loads(data)
        repo = Repository(
            name=d["name"],
            storage_namespace=d["storage_namespace"],
            default_branch=d["default_branch"],
            creation_date=int(d["creation_date"]),
            read_only=bool(d["read_only"]),
        )
        return cls(repo, d["namespace_key"], d["uid"])


@dataclass(frozen=True, slots=True)
class BranchRecord:
    """lakeFS's BranchData: head commit, the token new writes go to, tokens being committed."""

    commit_id: str
    staging_token: str
    sealed_tokens: tuple[str, ...] = ()
    hidden: bool = False
    """Left out of branch listings unless asked for (lakeFS's ephemeral branches)."""

    @property
    def tokens(self) -> list[str]:
        """Newest first: the order reads consult them in."""
        return [self.staging_token, *self.sealed_tokens]

    def encode(self) -> bytes:
        fields: dict[str, object] = {
            "commit_id": self.commit_id,
            "staging_token": self.staging_token,
            "sealed_tokens": list(self.sealed_tokens),
        }
        if self.hidden:  # absent when false: records written before stay byte-identical
            fields["hidden"] = True
        return dumps(fields)

    @classmethod
    def decode(cls, data: bytes) -> BranchRecord:
        d = loads(data)
        return cls(
            d["commit_id"],
            d["staging_token"],
            tuple(d["sealed_tokens"]),
            bool(d.get("hidden", False)),
        )


def commit_id_for(
    *,
    committer: str,
    message: str,
    meta_range_id: str,
    creation_date: int,
    metadata: Mapping[str, str],
    parents: Sequence[str],
) -> str:
    """SHA-256 of the canonical encoding, as lakeFS does (so ids depend on the date)."""
    canonical = dumps(
        {
            "committer": committer,
            "message": message,
            "meta_range_id": meta_range_id,
            "creation_date": creation_date,
            "metadata": dict(metadata),
            "parents": list(parents),
        }
    )
    return hashlib.sha256(canonical).hexdigest()


def encode_commit(commit: Commit) -> bytes:
    return dumps(
        {
            "id": commit.id,
            "parents": list(commit.parents),
            "committer": commit.committer,
            "message": commit.message,
            "creation_date": commit.creation_date,
            "meta_range_id": commit.meta_range_id,
            "metadata": dict(commit.metadata),
            "generation": commit.generation,
        }
    )


def decode_commit(data: bytes) -> Commit:
    d = loads(data)
    return Commit(
        id=d["id"],
        parents=tuple(d["parents"]),
        committer=d["committer"],
        message=d["message"],
        creation_date=int(d["creation_date"]),
        meta_range_id=d["meta_range_id"],
        metadata=dict(d["metadata"]),
        generation=int(d["generation"]),
    )


def encode_reflog(entry: ReflogEntry) -> bytes:
    return dumps(
        {
            "branch": entry.branch,
            "previous_commit_id": entry.previous_commit_id,
            "new_commit_id": entry.new_commit_id,
            "reason": entry.reason,
            "actor": entry.actor,
            "date": entry.date,
        }
    )


def decode_reflog(data: bytes) -> ReflogEntry:
    d = loads(data)
    return ReflogEntry(
        branch=d["branch"],
        previous_commit_id=d["previous_commit_id"],
        new_commit_id=d["new_commit_id"],
        reason=d["reason"],
        actor=d["actor"],
        date=int(d["date"]),
    )


def encode_gc_rules(rules: GcRules) -> bytes:
    return dumps(
        {"default_retention_days": rules.default_retention_days, "branches": dict(rules.branches)}
    )


def decode_gc_rules(data: bytes) -> GcRules:
    d = loads(data)
    return GcRules(int(d["default_retention_days"]), {k: int(v) for k, v in d["branches"].items()})


@dataclass(frozen=True, slots=True)
class View:
    """What a ref names for reading: a commit, plus staging tokens when it is a branch."""

    commit: Commit
    tokens: tuple[str, ...] = field(default=())
    branch: str | None = None
