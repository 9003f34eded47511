"""Zero-copy import: entries that point at objects where they already are, never copied.

A source is qualified by :meth:`~.locations.NamespaceStores.import_source`: on an S3
deployment ``s3://any-bucket/prefix`` (that bucket's own store), on the embedded one
``local://prefix``. Each entry's address is the source object's qualified address, so a read
resolves the source bucket's store, and GC never lists or deletes it (it is external).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator

from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.datasets.errors import InvalidArgumentError, NotFoundError
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.namespaces import overlaps
from sartiq_storage.core.datasets.ranges import Record, entry_to_record
from sartiq_storage.core.errors import ObjectNotFoundError
from sartiq_storage.services.datasets.blobs import namespace_key
from sartiq_storage.services.datasets.locations import NamespaceStores


def source_prefix(store: ObjectStore, source: str) -> str:
    """``s3://<our bucket>/x/``, ``local://x/`` or a plain ``x/`` prefix on one store."""
    key = namespace_key(store, source)
    return key + "/" if source.rstrip().endswith("/") else key


def check_source(stores: NamespaceStores, qualified: str, namespace: str) -> None:
    """lakeFS's rule: a source may neither lie inside the repository's namespace nor hold
    it; and engine metadata (``_meta/``) is never imported."""
    store, key = stores.resolve(qualified)
    if key.startswith("_meta/") or "/_meta/" in key:
        raise InvalidArgumentError("cannot import engine metadata")
    own_store, own_key = stores.resolve(namespace)
    if store is own_store and (not key.strip("/") or overlaps(key, own_key)):
        raise InvalidArgumentError(
            f"import path ({qualified}) in repository namespace ({namespace}) is prohibited"
        )


def _address(qualified: str, key: str) -> str:
    """The qualified address of ``key`` on the source's store."""
    scheme, sep, rest = qualified.partition("://")
    if not sep:
        return key
    if scheme == "s3":
        return f"s3://{rest.partition('/')[0]}/{key}"
    return f"{scheme}://{key}"


def _record(info: ObjectInfo, address: str, path: str, now: int) -> Record:
    content_type = (
        info.content_type or mimetypes.guess_type(info.key)[0] or "application/octet-stream"
    )
    return entry_to_record(
        Entry(
            path=path,
            address=address,
            size=info.size,
            checksum=(info.etag or "").strip('"'),
            content_type=content_type,
            mtime=int(info.last_modified.timestamp()) if info.last_modified else now,
            external=True,
        )
    )


def walk(
    stores: NamespaceStores, qualified: str, destination: str, *, start_after: str | None = None
) -> Iterator[tuple[str, Record]]:
    """``(source key, record)`` for every object under the qualified prefix, re-rooted under
    ``destination``, in key order, from after ``start_after`` (a source key: how a resumed
    import continues). The checksum is the ETag (MD5 for single-part uploads), as lakeFS
    records it."""
    store, prefix = stores.resolve(qualified)
    now = int(time.time())
    for info in store.list(prefix, start_after=start_after):
        relative = info.key[len(prefix) :]
        if not prefix.endswith("/"):
            relative = relative.lstrip("/")
        if not relative:
            continue
        yield info.key, _record(info, _address(qualified, info.key), destination + relative, now)


def single(stores: NamespaceStores, qualified: str, destination: str) -> Record:
    """The record of one object (lakeFS's ``type: object``) at the path ``destination``."""
    store, key = stores.resolve(qualified)
    try:
        info = store.head(key)
    except ObjectNotFoundError:
        raise NotFoundError(f"import source {qualified!r} not found") from None
    return _record(info, _address(qualified, key), destination, int(time.time()))


def import_records(store: ObjectStore, source: str, destination: str) -> Iterator[Record]:
    """One record per object under ``source`` on one store, re-rooted under ``destination``."""
    stores = NamespaceStores(store)
    qualified = stores.import_source(source)
    if qualified.startswith("_meta/") or "/_meta/" in qualified:
        raise InvalidArgumentError("cannot import engine metadata")
    for _key, record in walk(stores, qualified, destination):
        yield record
