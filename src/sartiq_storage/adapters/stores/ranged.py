"""A stored object as a seekable, read-only file: ranged GETs with a small read-ahead.

What a demuxer (PyAV) needs to read a video where it lies: it asks for a few kilobytes at a
time, here and there (the ``moov`` atom of an MP4 is often at the end), and never the whole
file. Each miss fetches ``max(asked, read_ahead)`` bytes from the store with one ranged GET;
the next reads are served from that buffer. Memory stays at one buffer, whatever the size.

Every GET is pinned to the object as first seen: if its ETag changes mid-read (the key was
overwritten), the read fails rather than mixing two objects' bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from sartiq_storage.adapters.stores.base import ObjectInfo, ObjectStore
from sartiq_storage.core.errors import PreconditionFailedError

READ_AHEAD = 1024 * 1024
"""Bytes fetched per miss. A demuxer reads 32 KiB at a time, and an MP4's index (``moov``,
at the start or the end) of a two-gigabyte clip is a few hundred kilobytes: one GET for the
header and one for the index, where 256 KiB took three (each GET is a round trip, and on
stores that serve a range by reading the object, as moto does, far more)."""
MAX_FETCH = 8 * 1024 * 1024
"""The largest single GET, whatever one ``read`` asks for: a read of everything is refused
(:class:`ValueError`), and a large read is served in pieces of at most this size."""


@dataclass(slots=True)
class ReadStats:
    """What the reader fetched: requests, bytes, the largest fetch (for tests and benches)."""

    requests: int = 0
    fetched: int = 0
    largest: int = 0


class RangedReader(io.RawIOBase):
    """``info``'s object, readable and seekable through ranged GETs on ``store``."""

    def __init__(
        self,
        store: ObjectStore,
        info: ObjectInfo,
        *,
        read_ahead: int = READ_AHEAD,
        head: bytes = b"",
        tail: bytes = b"",
    ) -> None:
        """``head``: the object's first bytes when the caller has them already (the sniffed
        prefix of an upload): reads there need no GET, before or after reads elsewhere (a
        demuxer reads the index at the end, then the first frame right after the header).
        ``tail``: its last bytes, likewise (kept by a hash that streamed the object: an
        MP4's index at the end needs no GET then)."""
        super().__init__()
        self.store = store
        self.info = info
        self.read_ahead = max(1, min(read_ahead, MAX_FETCH))
        self.stats = ReadStats()
        self._pos = 0
        self._head = head[: info.size]
        self._tail = tail[-info.size :] if tail else b""
        self._tail_start = info.size - len(self._tail)
        self._buffer = b""
        self._buffer_start = 0

    @property
    def size(self) -> int:
        return self.info.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self._pos))
        done = 0
        while done < wanted:
            chunk = self._take(wanted - done)
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise ValueError("a ranged reader reads a bounded number of bytes at a time")
        buffer = bytearray(min(size, max(0, self.size - self._pos)))
        return bytes(buffer[: self.readinto(buffer)])

    def readall(self) -> bytes:
        raise ValueError("a ranged reader never reads a whole object at once")

    def _take(self, wanted: int) -> memoryview:
        """Up to ``wanted`` bytes at the current position: from the head or the buffer, else
        fetched."""
        if self._pos < len(self._head):
            return memoryview(self._head)[self._pos : self._pos + wanted]
        if self._tail and self._pos >= self._tail_start:
            offset = self._pos - self._tail_start
            return memoryview(self._tail)[offset : offset + wanted]
        offset = self._pos - self._buffer_start
        if not 0 <= offset < len(self._buffer):
            self._fetch(self._pos, wanted)
            offset = 0
        return memoryview(self._buffer)[offset : offset + wanted]

    def _fetch(self, start: int, wanted: int) -> None:
        end = min(self.size, start + min(max(wanted, self.read_ahead), MAX_FETCH))
        with self.store.get(self.info.key, start=start, end=end) as stream:
            if self.info.etag and stream.info.etag and stream.info.etag != self.info.etag:
                raise PreconditionFailedError(self.info.key, "the object changed while read")
            data = stream.read()
        if not data:
            raise EOFError(f"{self.info.key}: no bytes at {start}")
        self._buffer, self._buffer_start = data, start
        self.stats.requests += 1
        self.stats.fetched += len(data)
        self.stats.largest = max(self.stats.largest, len(data))
