"""The compute server's storage: everything it writes lives under ``compute/``.

The platform's two implementations, behind one class:

* on R2/S3 (``R2ImageStorage``) every path is prefixed with ``compute/`` automatically and
  public URLs are CDN URLs;
* on the embedded store (``DiskImageStorage``) the objects sit in the data folder and
  ``GET /api/v1/storage/images/{path}`` answers the bytes. That route takes a bearer token,
  so public URLs point where the embedded store serves the bucket as a CDN would
  (``/_storage/public/compute/…``), not at the API: a URL in an answer opens for anyone.

Callers pass paths relative to the compute workspace (``generations/task789/result_0.webp``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import (
    UnsupportedMediaError,
    UploadTooLargeError,
)
from sartiq_storage.core.keys import ComputeResultKey
from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.core.sniff import SNIFF_BYTES, sniff
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.core.validation import validate_key, validate_prefix

PREFIX = "compute/"
API_ROUTE = "/api/v1/storage/images"


@dataclass(frozen=True, slots=True)
class StoredImage:
    path: str
    """Relative to the compute workspace (no ``compute/``)."""
    key: str
    url: str
    size: int


class ComputeStorage:
    def __init__(
        self,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        served_by_api: bool,
        max_size: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.store = store
        self.urls = urls
        self.served_by_api = served_by_api
        self.max_size = max_size

    @property
    def backend_name(self) -> str:
        return "DiskImageStorage" if self.served_by_api else "R2ImageStorage"

    def key_for(self, path: str) -> str:
        """``compute/{path}``, refusing absolute paths, ``..`` and every other unsafe key.

        Every path gets the prefix, one that starts with ``compute/`` too (as the platform's
        ``R2ImageStorage`` does): a path is what :meth:`list` answers, so each one names one
        object and reads back the object it wrote."""
        return PREFIX + validate_key(path)

    def public_url(self, path: str) -> str:
        """The CDN URL on R2/S3, the embedded store's public route otherwise."""
        return self.urls.public_url(self.key_for(path))

    def save(self, path: str, data: bytes) -> StoredImage:
        """Store an image or video the compute server produced."""
        key = self.key_for(path)
        if len(data) > self.max_size:
            raise UploadTooLargeError(f"{len(data)} bytes is over the {self.max_size} byte limit")
        kind = sniff(data[:SNIFF_BYTES])
        if kind is None:
            raise UnsupportedMediaError("not an accepted image or video (checked from its bytes)")
        self.store.put(key, data, content_type=kind.content_type, cache_control=IMMUTABLE)
        relative = key[len(PREFIX) :]
        return StoredImage(relative, key, self.public_url(relative), len(data))

    def save_result(self, task_type: str, task_id: str, index: int, data: bytes) -> StoredImage:
        """Write ``{task_type}s/{task_id}/result_{index}.webp`` (the platform's layout)."""
        key = ComputeResultKey(task_type, task_id, index).key
        return self.save(key[len(PREFIX) :], data)

    def head(self, path: str) -> ObjectInfo:
        return self.store.head(self.key_for(path))

    def delete(self, path: str) -> None:
        self.store.delete(self.key_for(path))

    def list(self, prefix: str = "", limit: int = 100) -> Iterator[StoredImage]:
        full = PREFIX + validate_prefix(prefix)
        for count, info in enumerate(self.store.list(full), start=1):
            relative = info.key[len(PREFIX) :]
            yield StoredImage(relative, info.key, self.public_url(relative), info.size)
            if count >= limit:
                return
