"""Zero-copy import: entries that point at objects already on the store, never copied."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.ranges import Record, entry_to_record
from sartiq_storage.services.datasets.blobs import namespace_key


def source_prefix(store: ObjectStore, source: str) -> str:
    """``s3://<our bucket>/x/``, ``local://x/`` or a plain ``x/`` prefix; other buckets refused."""
    key = namespace_key(store, source)
    return key + "/" if source.rstrip().endswith("/") else key


def import_records(store: ObjectStore, source: str, destination: str) -> Iterator[Record]:
    """One record per object under ``source``, re-rooted under ``destination``, sorted.

    The checksum is the object's ETag (MD5 for single-part uploads), as lakeFS records it.
    """
    prefix = source_prefix(store, source)
    if prefix.startswith("_meta/") or "/_meta/" in prefix:
        raise InvalidArgumentError("cannot import engine metadata")
    now = int(time.time())
    for info in store.list(prefix):
        relative = (
            info.key[len(prefix) :].lstrip("/")
            if not prefix.endswith("/")
            else info.key[len(prefix) :]
        )
        if not relative:
            continue
        content_type = (
            info.content_type or mimetypes.guess_type(info.key)[0] or "application/octet-stream"
        )
        yield entry_to_record(
            Entry(
                path=destination + relative,
                address=info.key,
                size=info.size,
                checksum=(info.etag or "").strip('"'),
                content_type=content_type,
                mtime=int(info.last_modified.timestamp()) if info.last_modified else now,
                external=True,
            )
        )
