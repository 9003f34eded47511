"""lakeFS SDK models to ours, and request bodies from our values."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import IO

import lakefs_sdk

from sartiq_storage.adapters.datasets.lakefs.connection import CHUNK
from sartiq_storage.core.datasets.model import Commit, DiffEntry, Entry, Repository
from sartiq_storage.core.datasets.protocol import Data


def overrides(
    message: str | None, metadata: Mapping[str, str] | None
) -> lakefs_sdk.CommitOverrides | None:
    if message is None and metadata is None:
        return None
    return lakefs_sdk.CommitOverrides(
        message=message, metadata=None if metadata is None else dict(metadata)
    )


def to_entry(stats: lakefs_sdk.ObjectStats) -> Entry:
    return Entry(
        path=stats.path,
        address=stats.physical_address,
        size=stats.size_bytes or 0,
        checksum=stats.checksum,
        content_type=stats.content_type or "application/octet-stream",
        mtime=stats.mtime,
        metadata=dict(stats.metadata or {}),
    )


def to_commit(c: lakefs_sdk.Commit) -> Commit:
    return Commit(
        id=c.id,
        parents=tuple(c.parents),
        committer=c.committer,
        message=c.message,
        creation_date=c.creation_date,
        meta_range_id=c.meta_range_id,
        metadata=dict(c.metadata or {}),
        generation=c.generation or 0,
    )


def to_repository(r: lakefs_sdk.Repository) -> Repository:
    return Repository(
        name=r.id,
        storage_namespace=r.storage_namespace,
        default_branch=r.default_branch,
        creation_date=r.creation_date,
        read_only=bool(r.read_only),
    )


def to_diff(d: lakefs_sdk.Diff) -> DiffEntry:
    return DiffEntry(
        type=d.type,  # type: ignore[arg-type]  # lakefs_sdk validates the enum
        path=d.path,
        path_type=d.path_type,  # type: ignore[arg-type]
        size_bytes=d.size_bytes,
    )


def spool(data: Data) -> tuple[IO[bytes], int]:
    """Any accepted data as a seekable file and its length (lakeFS wants Content-Length)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    if isinstance(data, bytes | bytearray | memoryview):
        spool.write(data)
    elif hasattr(data, "read"):
        while chunk := data.read(CHUNK):
            spool.write(chunk)
    else:
        for chunk in data:
            spool.write(chunk)
    size = spool.tell()
    spool.seek(0)
    return spool, size
