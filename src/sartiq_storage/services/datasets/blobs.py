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

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import GoneError, InvalidArgumentError
from sartiq_storage.core.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
)
from sartiq_storage.core.validation import validate_prefix

SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 1024 * 1024
DATA_PREFIX = "data/"


def namespace_key(store: ObjectStore, storage_namespace: str) -> str:
    """The namespace as a key prefix on ``store``.

    Accepts ``datasets/<repo>``, ``local://datasets/<repo>``, ``mem://…``, and
    ``s3://<bucket>/<prefix>`` when ``<bucket>`` is the store's own bucket. Another bucket is
    refused: the engine has exactly one store.
    """
    text = storage_namespace.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme in ("s3", "r2"):
            bucket, _, rest = rest.partition("/")
            own = getattr(store, "bucket", None)
            if own is not None and bucket != own:
                raise InvalidArgumentError(
                    f"storage namespace {storage_namespace!r} names bucket {bucket!r}, "
                    f"but this engine stores in {own!r}"
                )
        elif scheme not in ("local", "mem", "memory"):
            raise InvalidArgumentError(f"unsupported storage namespace scheme {scheme!r}")
        text = rest
    text = text.strip("/")
    if not text:
        raise InvalidArgumentError("storage namespace must name a non-empty prefix")
    try:
        return validate_prefix(text)
    except InvalidKeyError as exc:
        raise InvalidArgumentError(f"invalid storage namespace: {exc}") from exc


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
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

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
            key = f"{ns}/{address}"
            if not self.store.exists(key):
                spool.seek(0)
                # Same bytes written concurrently: content addressing makes that fine.
                with contextlib.suppress(PreconditionFailedError):
                    self.store.put(key, spool, if_absent=True)
        return StoredBlob(address, size, md5.hexdigest())

    def key_of(self, ns: str, address: str, external: bool) -> str:
        return address if external else f"{ns}/{address}"

    def read(
        self, ns: str, address: str, external: bool, start: int | None, end: int | None
    ) -> Iterator[bytes]:
        key = self.key_of(ns, address, external)
        try:
            stream = self.store.get(key, start=start, end=end)
        except ObjectNotFoundError as exc:
            raise GoneError(f"the bytes of this object are gone ({address})") from exc
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from exc
        return iter(stream)
