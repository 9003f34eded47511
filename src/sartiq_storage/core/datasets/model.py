"""The values the dataset engine hands out: repositories, branches, commits, entries, diffs.

They follow lakeFS's vocabulary (``../docs/datasets.md``) so the lakeFS-compatible API can
serialise them field by field. All are immutable; times are whole UTC epoch seconds, as lakeFS
reports them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

DiffType = Literal["added", "removed", "changed", "conflict", "prefix_changed"]
PathType = Literal["object", "common_prefix"]
MergeStrategy = Literal["source-wins", "dest-wins"]


def entry_identity(size: int, checksum: str, content_type: str, metadata: Mapping[str, str]) -> str:
    """lakeFS's entry identity: what diff and merge compare (not the address, not mtime)."""
    canonical = json.dumps(
        [size, checksum, content_type, sorted(metadata.items())],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def if_match_holds(tags: Collection[str], checksum: str) -> bool:
    """Whether an object with ``checksum`` answers an ``If-Match`` naming ``tags`` (``*``:
    any object at all)."""
    return "*" in tags or checksum in tags


@dataclass(frozen=True, slots=True)
class Entry:
    """One object of a dataset at some ref.

    ``address`` is where the bytes live: ``data/<sha256[:2]>/<sha256>`` inside the repository's
    storage namespace (content-addressed), or, for ``external`` entries brought in by a
    zero-copy import, the source object's key on the store; GC never touches external ones.
    """

    path: str
    address: str
    size: int
    checksum: str
    """MD5 hex of the bytes: what lakeFS reports as the checksum of a single-part upload."""
    content_type: str
    mtime: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    external: bool = False

    @property
    def identity(self) -> str:
        return entry_identity(self.size, self.checksum, self.content_type, self.metadata)


@dataclass(frozen=True, slots=True)
class OpenObject:
    """An object found at a ref: its entry and ``read(start, end)`` of those very bytes
    (``[start, end)``, None for the whole), so a reader looks the path up once."""

    entry: Entry
    read: Callable[[int | None, int | None], Iterable[bytes]]
    file: str | None = None
    """The local file holding exactly these bytes (the embedded store's content-addressed
    blob, never rewritten), for a server that sends files itself; None elsewhere."""


@dataclass(frozen=True, slots=True)
class Repository:
    name: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Branch:
    name: str
    commit_id: str


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    commit_id: str


@dataclass(frozen=True, slots=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    committer: str
    message: str
    creation_date: int
    meta_range_id: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    generation: int = 0


@dataclass(frozen=True, slots=True)
class DiffEntry:
    type: DiffType
    path: str
    path_type: PathType = "object"
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """A folder in a delimited listing (``path`` ends with the delimiter)."""

    path: str


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a listing: entries and common prefixes in path order."""

    items: tuple[Entry | CommonPrefix, ...]
    has_more: bool
    next_offset: str = ""


@dataclass(frozen=True, slots=True)
class ReflogEntry:
    """A branch pointer move that was not a commit (hard reset), so it can be undone."""

    branch: str
    previous_commit_id: str
    new_commit_id: str
    reason: str
    actor: str
    date: int


@dataclass(frozen=True, slots=True)
class GcRules:
    default_retention_days: int
    branches: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GcReport:
    dry_run: bool
    active_commits: int
    reachable_addresses: int
    candidates: tuple[str, ...]
    """Addresses (data blobs) that nothing active references and are past the grace period."""
    deleted: int = 0
    metadata_files_deleted: int = 0
