"""A store wrapper that counts reads, for the tests and the benchmarks alike (how many GETs an
ingest makes, and the largest piece of bytes it held at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sartiq_storage.adapters.stores import ObjectStore, ObjectStream

__all__ = ["ReadCountingStore", "ReadLog"]


@dataclass
class ReadLog:
    """Every GET: its key and range, and the largest piece of bytes handed over at once."""

    gets: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    largest_piece: int = 0
    total: int = 0


class ReadCountingStore:
    """Wraps a real store; every ``get`` is logged with the largest buffer it returned (a
    ``read()`` counts whole, an iterated stream chunk by chunk)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.log = ReadLog()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _saw(self, size: int) -> None:
        with self._lock:
            self.log.largest_piece = max(self.log.largest_piece, size)
            self.log.total += size

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        with self._lock:
            self.log.gets.append((key, start, end))
        stream = self.inner.get(key, start=start, end=end)

        def chunks() -> Iterator[bytes]:
            for chunk in stream:
                self._saw(len(chunk))
                yield chunk

        def whole() -> bytes:
            data = stream.read()
            self._saw(len(data))
            return data

        return ObjectStream(stream.info, chunks(), stream.byte_range, [stream], whole)

    def get_bytes(self, key: str) -> bytes:
        with self.get(key) as stream:
            return stream.read()
