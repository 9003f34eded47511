"""Object bytes on the project's ObjectStore, content-addressed inside a storage namespace.

``<ns>/data/<sha256[:2]>/<sha256>``: uploads are idempotent and identical bytes are stored
once per repository. SHA-256 (the address) and MD5 (lakeFS's checksum) come from one pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sartiq_storage.adapters.stores import LocalStore, ObjectStore, ObjectStream
from sartiq_storage.core.datasets.errors import GoneError, InvalidArgumentError
from sartiq_storage.core.errors import ObjectNotFoundError, PreconditionFailedError
from sartiq_storage.services.datasets.locations import NamespaceStores

SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 1024 * 1024
DATA_PREFIX = "data/"


def namespace_key(store: ObjectStore, storage_namespace: str) -> str:
    """The namespace as a key prefix on ``store`` alone (the engine on a single store).

    Accepts ``datasets/<repo>``, ``local://datasets/<repo>``, ``mem://…``, and
    ``s3://<bucket>/<prefix>`` when ``<bucket>`` is the store's own bucket; see
    :class:`~.locations.NamespaceStores` for namespaces with stores of their own.
    """
    return NamespaceStores(store).locate(storage_namespace)


@dataclass(frozen=True, slots=True)
class StoredBlob:
    address: str
    size: int
    checksum: str


def _chunks(data: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
    elif hasattr(data, "read"):
        reader: BinaryIO = data  # type: ignore[assignment]
        while chunk := reader.read(CHUNK):
            yield chunk
    else:
        yield from data


class Blobs:
    def __init__(self, store: ObjectStore | NamespaceStores) -> None:
        """``store``: one store for every namespace, or the resolver of qualified ones."""
        self.stores = store if isinstance(store, NamespaceStores) else NamespaceStores(store)

    def put(self, ns: str, data: bytes | BinaryIO | Iterable[bytes]) -> StoredBlob:
        sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            for chunk in _chunks(data):
                sha.update(chunk)
                md5.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            digest = sha.hexdigest()
            address = f"{DATA_PREFIX}{digest[:2]}/{digest}"
            store, prefix = self.stores.resolve(ns)
            key = f"{prefix}/{address}"
            if not store.exists(key):
                spool.seek(0)
                # Same bytes written concurrently: content addressing makes that fine.
                with contextlib.suppress(PreconditionFailedError):
                    store.put(key, spool, if_absent=True)
        return StoredBlob(address, size, md5.hexdigest())

    def locate(self, ns: str, address: str, external: bool) -> tuple[ObjectStore, str]:
        """The store and key of an entry's bytes: its namespace's, or for an imported
        (external) entry the source's own (``s3://bucket/key``, ``local://key``, or a key
        on the engine's store)."""
        if external:
            return self.stores.resolve(address)
        store, prefix = self.stores.resolve(ns)
        return store, f"{prefix}/{address}"

    def file(self, ns: str, address: str, external: bool) -> str | None:
        """The local file of a blob in a namespace on the local disk (immutable: its name is
        its SHA-256); None for imported entries (their source may change) and other stores."""
        if external:
            return None
        store, key = self.locate(ns, address, external)
        return store.file_path(key) if isinstance(store, LocalStore) else None

    def open(
        self, ns: str, address: str, external: bool, start: int | None, end: int | None
    ) -> ObjectStream:
        store, key = self.locate(ns, address, external)
        try:
            return store.get(key, start=start, end=end)
        except ObjectNotFoundError as exc:
            raise GoneError(f"the bytes of this object are gone ({address})") from exc
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from exc

    def read(
        self, ns: str, address: str, external: bool, start: int | None, end: int | None
    ) -> Iterator[bytes]:
        return iter(self.open(ns, address, external, start, end))
