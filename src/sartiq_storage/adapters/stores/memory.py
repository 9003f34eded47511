"""An in-memory backend for tests and throwaway runs; same contract as the others."""

from __future__ import annotations

import bisect
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sartiq_storage.adapters.stores._common import Md5Counter, iter_body
from sartiq_storage.adapters.stores._parts import InProcessMultipart, PartsFolder
from sartiq_storage.adapters.stores.base import (
    SOURCE_CHANGED,
    Body,
    ObjectInfo,
    ObjectStream,
    PutResult,
    resolve_range,
)
from sartiq_storage.core.errors import ObjectNotFoundError, PreconditionFailedError
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.validation import validate_key, validate_prefix


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    info: ObjectInfo


class MemoryStore(InProcessMultipart):
    """A dict of objects with a sorted key index, guarded by one lock."""

    kind = "memory"

    def __init__(self, *, signer: UrlSigner | None = None) -> None:
        self._objects: dict[str, _Entry] = {}
        self._keys: list[str] = []
        self._lock = threading.Lock()
        self.signer = signer
        self._multipart: tempfile.TemporaryDirectory[str] | None = None

    @property
    def description(self) -> str:
        return "memory (process-local, lost on exit)"

    def _parts(self) -> PartsFolder:
        """Parts go to a temporary folder made on first use (a part may be gigabytes)."""
        with self._lock:
            if self._multipart is None:
                self._multipart = tempfile.TemporaryDirectory(prefix="sartiq-parts-")
            return PartsFolder(self._multipart.name)

    def close(self) -> None:
        if self._multipart is not None:
            self._multipart.cleanup()
            self._multipart = None

    def _store(self, key: str, entry: _Entry, *, if_absent: bool) -> None:
        with self._lock:
            exists = key in self._objects
            if exists and if_absent:
                raise PreconditionFailedError(key)
            self._objects[key] = entry
            if not exists:
                bisect.insort(self._keys, key)

    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        key = validate_key(key)
        counter = Md5Counter()
        parts = []
        for chunk in iter_body(body):
            counter.update(chunk)
            parts.append(chunk)
        info = ObjectInfo(
            key, counter.size, counter.etag, datetime.now(UTC), content_type, cache_control
        )
        self._store(key, _Entry(b"".join(parts), info), if_absent=if_absent)
        return PutResult(key, info.etag, info.size)

    def _entry(self, key: str) -> _Entry:
        key = validate_key(key)
        try:
            return self._objects[key]
        except KeyError:
            raise ObjectNotFoundError(key) from None

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        entry = self._entry(key)
        lo, hi = resolve_range(entry.info.size, start, end)
        return ObjectStream(entry.info, iter([entry.data[lo:hi]]), (lo, hi))

    def head(self, key: str) -> ObjectInfo:
        return self._entry(key).info

    def copy(
        self,
        source: str,
        destination: str,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
        source_info: ObjectInfo | None = None,
    ) -> ObjectInfo:
        destination = validate_key(destination)
        entry = self._entry(source)
        if source_info is not None and source_info.etag not in (None, entry.info.etag):
            raise PreconditionFailedError(validate_key(source), SOURCE_CHANGED)
        replace_meta = content_type is not None or cache_control is not None
        info = replace(
            entry.info,
            key=destination,
            last_modified=datetime.now(UTC),
            content_type=content_type if replace_meta else entry.info.content_type,
            cache_control=cache_control if replace_meta else entry.info.cache_control,
        )
        self._store(destination, _Entry(entry.data, info), if_absent=if_absent)
        return info

    def delete(self, key: str) -> None:
        key = validate_key(key)
        with self._lock:
            if self._objects.pop(key, None) is not None:
                index = bisect.bisect_left(self._keys, key)
                del self._keys[index]

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        prefix = validate_prefix(prefix)
        cursor = max(prefix, start_after or "")
        while True:
            with self._lock:
                index = bisect.bisect_right(self._keys, cursor)
                if cursor == prefix and start_after is None and cursor in self._objects:
                    index -= 1
                page = [
                    self._objects[k].info
                    for k in self._keys[index : index + 1000]
                    if k.startswith(prefix)
                ]
            if not page:
                return
            yield from page
            if len(page) < 1000:
                return
            cursor = page[-1].key
