"""The committed tree: ranges and metaranges on the object store, with an LRU cache.

Work is proportional to the change, not to the tree: ``apply_changes`` copies every range no
change falls into by id (never reading it) and ``diff`` skips ranges whose ids are equal on
both sides. The counters let tests assert exactly that instead of timing anything.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.ranges import (
    EMPTY_METARANGE_ID,
    MAX_ENTRIES,
    RangeInfo,
    Record,
    decode_metarange,
    decode_range,
    encode_metarange,
    encode_range,
    is_boundary,
)
from sartiq_storage.core.errors import PreconditionFailedError
from sartiq_storage.services.datasets.locations import NamespaceStores

Change = tuple[str, Record | None]
"""A path and its new record, or None for a delete."""
Within = Callable[[str, str], bool]
"""Whether the key interval ``[min_key, max_key]`` can hold anything the caller wants."""
DiffRow = tuple[str, Record | None, Record | None]


@dataclass(frozen=True, slots=True)
class ParsedRange:
    keys: list[str]
    records: list[Record]


@dataclass(frozen=True, slots=True)
class ParsedMetarange:
    ranges: list[RangeInfo]
    max_keys: list[str]


class CommittedStore:
    def __init__(self, store: ObjectStore | NamespaceStores, *, cache_ranges: int = 512) -> None:
        """``store``: one store for every namespace, or the resolver of qualified ones."""
        self.stores = store if isinstance(store, NamespaceStores) else NamespaceStores(store)
        self.cache_ranges = cache_ranges
        self._ranges: OrderedDict[tuple[str, str], ParsedRange] = OrderedDict()
        self._metaranges: OrderedDict[tuple[str, str], ParsedMetarange] = OrderedDict()
        self._lock = threading.Lock()
        self.reset_counters()

    def reset_counters(self) -> None:
        self.ranges_read = 0
        """Ranges opened (from the cache or the store): the work-proportionality measure."""
        self.ranges_fetched = 0
        self.ranges_written = 0
        self.metaranges_read = 0
        self.metaranges_written = 0

    # -- files -----------------------------------------------------------------------------
    @staticmethod
    def range_key(ns: str, range_id: str) -> str:
        """The key of a range file under a namespace's key prefix (on its own store)."""
        return f"{ns}/_meta/ranges/{range_id}"

    @staticmethod
    def metarange_key(ns: str, metarange_id: str) -> str:
        return f"{ns}/_meta/metaranges/{metarange_id}"

    def _file(self, ns: str, folder: str, file_id: str) -> tuple[ObjectStore, str]:
        """The store and key of a tree file of the qualified namespace ``ns``."""
        store, prefix = self.stores.resolve(ns)
        return store, f"{prefix}/_meta/{folder}/{file_id}"

    def put_metarange_bytes(self, ns: str, metarange_id: str, data: bytes) -> None:
        """Writes a metarange file once (content-addressed: an existing one is the same)."""
        store, key = self._file(ns, "metaranges", metarange_id)
        with contextlib.suppress(PreconditionFailedError):
            store.put(key, data, if_absent=True)

    def _remember(self, cache: OrderedDict[tuple[str, str], object], key: tuple[str, str]) -> None:
        cache.move_to_end(key)
        while len(cache) > self.cache_ranges:
            cache.popitem(last=False)

    def read_range(self, ns: str, range_id: str) -> ParsedRange:
        self.ranges_read += 1
        key = (ns, range_id)
        with self._lock:
            cached = self._ranges.get(key)
            if cached is not None:
                self._remember(self._ranges, key)  # type: ignore[arg-type]
                return cached
        self.ranges_fetched += 1
        store, file_key = self._file(ns, "ranges", range_id)
        records = decode_range(store.get_bytes(file_key))
        parsed = ParsedRange([r.path for r in records], records)
        with self._lock:
            self._ranges[key] = parsed
            self._remember(self._ranges, key)  # type: ignore[arg-type]
        return parsed

    def write_range(self, ns: str, records: Sequence[Record]) -> RangeInfo:
        range_id, data = encode_range(records)
        key = (ns, range_id)
        with self._lock:
            known = key in self._ranges
        if not known:
            self.ranges_written += 1
            store, file_key = self._file(ns, "ranges", range_id)
            with contextlib.suppress(PreconditionFailedError):  # the same range exists
                store.put(file_key, data, if_absent=True)
            with self._lock:
                self._ranges[key] = ParsedRange([r.path for r in records], list(records))
                self._remember(self._ranges, key)  # type: ignore[arg-type]
        return RangeInfo(range_id, records[0].path, records[-1].path, len(records))

    def read_metarange(self, ns: str, metarange_id: str) -> ParsedMetarange:
        self.metaranges_read += 1
        key = (ns, metarange_id)
        with self._lock:
            cached = self._metaranges.get(key)
            if cached is not None:
                self._remember(self._metaranges, key)  # type: ignore[arg-type]
                return cached
        if metarange_id == EMPTY_METARANGE_ID:
            ranges: list[RangeInfo] = []
        else:
            store, file_key = self._file(ns, "metaranges", metarange_id)
            ranges = decode_metarange(store.get_bytes(file_key))
        parsed = ParsedMetarange(ranges, [r.max_key for r in ranges])
        with self._lock:
            self._metaranges[key] = parsed
            self._remember(self._metaranges, key)  # type: ignore[arg-type]
        return parsed

    def write_metarange(self, ns: str, ranges: Sequence[RangeInfo]) -> str:
        metarange_id, data = encode_metarange(ranges)
        key = (ns, metarange_id)
        with self._lock:
            known = key in self._metaranges
        if not known:
            self.metaranges_written += 1
            self.put_metarange_bytes(ns, metarange_id, data)
            with self._lock:
                self._metaranges[key] = ParsedMetarange(list(ranges), [r.max_key for r in ranges])
                self._remember(self._metaranges, key)  # type: ignore[arg-type]
        return metarange_id

    # -- reads -----------------------------------------------------------------------------
    def lookup(self, ns: str, metarange_id: str, path: str) -> Record | None:
        meta = self.read_metarange(ns, metarange_id)
        index = bisect.bisect_left(meta.max_keys, path)
        if index == len(meta.ranges) or path < meta.ranges[index].min_key:
            return None
        parsed = self.read_range(ns, meta.ranges[index].id)
        i = bisect.bisect_left(parsed.keys, path)
        if i < len(parsed.keys) and parsed.keys[i] == path:
            return parsed.records[i]
        return None

    def iterate(
        self, ns: str, metarange_id: str, *, after: str = "", prefix: str = ""
    ) -> Iterator[Record]:
        """Records with ``path > after`` that start with ``prefix``, in order."""
        start = max(after, prefix)
        meta = self.read_metarange(ns, metarange_id)
        for index in range(bisect.bisect_left(meta.max_keys, start), len(meta.ranges)):
            info = meta.ranges[index]
            if prefix and info.min_key > prefix and not info.min_key.startswith(prefix):
                return
            parsed = self.read_range(ns, info.id)
            for i in range(bisect.bisect_left(parsed.keys, start), len(parsed.keys)):
                path = parsed.keys[i]
                if path == after:
                    continue
                if prefix and not path.startswith(prefix):
                    if path > prefix:
                        return
                    continue
                yield parsed.records[i]

    # -- writes ----------------------------------------------------------------------------
    def write_tree(self, ns: str, records: Sequence[Record]) -> str:
        """A metarange holding ``records`` (sorted by path), from scratch."""
        writer = _RangeWriter(self, ns)
        for record in records:
            writer.add(record)
        return self.write_metarange(ns, writer.finish())

    def apply_changes(self, ns: str, metarange_id: str, changes: Sequence[Change]) -> str:
        """The metarange of ``metarange_id`` with ``changes`` (sorted by path) applied.

        A change whose identity equals the existing record keeps the old record, so rewriting
        the same content changes nothing, not even the range id.
        """
        meta = self.read_metarange(ns, metarange_id)
        writer = _RangeWriter(self, ns)
        ci, n = 0, len(changes)
        for info in meta.ranges:
            if not writer.pending and (ci >= n or changes[ci][0] > info.max_key):
                writer.copy(info)
                continue
            records = self.read_range(ns, info.id).records
            i = 0
            while i < len(records) or (ci < n and changes[ci][0] <= info.max_key):
                if (
                    ci < n
                    and changes[ci][0] <= info.max_key
                    and (i >= len(records) or changes[ci][0] <= records[i].path)
                ):
                    path, new = changes[ci]
                    ci += 1
                    if i < len(records) and records[i].path == path:
                        old = records[i]
                        i += 1
                        if new is not None:
                            writer.add(old if old.identity == new.identity else new)
                    elif new is not None:
                        writer.add(new)
                else:
                    writer.add(records[i])
                    i += 1
        for _path, new in changes[ci:]:
            if new is not None:
                writer.add(new)
        return self.write_metarange(ns, writer.finish())

    # -- diff ------------------------------------------------------------------------------
    def diff(
        self, ns: str, left_id: str, right_id: str, *, within: Within | None = None
    ) -> Iterator[DiffRow]:
        """Paths whose identity differs, as ``(path, left, right)``; equal ranges are skipped."""
        if left_id == right_id:
            return
        left = _Cursor(self, ns, self.read_metarange(ns, left_id).ranges, within)
        right = _Cursor(self, ns, self.read_metarange(ns, right_id).ranges, within)
        while True:
            lk, rk = left.key(), right.key()
            if lk is None and rk is None:
                return
            lh, rh = left.header(), right.header()
            if lh is not None and rh is not None and lh.id == rh.id:
                left.skip()
                right.skip()
                continue
            if rk is None or (lk is not None and lk < rk):
                if lh is not None:
                    left.open()
                else:
                    record = left.take()
                    yield record.path, record, None
            elif lk is None or rk < lk:
                if rh is not None:
                    right.open()
                else:
                    record = right.take()
                    yield record.path, None, record
            elif lh is not None:
                left.open()
            elif rh is not None:
                right.open()
            else:
                lrec, rrec = left.take(), right.take()
                if lrec.identity != rrec.identity:
                    yield lrec.path, lrec, rrec


class _RangeWriter:
    """Accumulates records and cuts ranges at content-defined boundaries."""

    def __init__(self, committed: CommittedStore, ns: str) -> None:
        self.committed = committed
        self.ns = ns
        self.pending: list[Record] = []
        self.out: list[RangeInfo] = []

    def add(self, record: Record) -> None:
        self.pending.append(record)
        if is_boundary(record.path) or len(self.pending) >= MAX_ENTRIES:
            self.flush()

    def copy(self, info: RangeInfo) -> None:
        self.out.append(info)

    def flush(self) -> None:
        if self.pending:
            self.out.append(self.committed.write_range(self.ns, self.pending))
            self.pending = []

    def finish(self) -> list[RangeInfo]:
        self.flush()
        return self.out


class _Cursor:
    """A position in a metarange: before an unopened range, or inside an opened one."""

    def __init__(
        self,
        committed: CommittedStore,
        ns: str,
        ranges: list[RangeInfo],
        within: Within | None,
    ) -> None:
        self.committed = committed
        self.ns = ns
        self.ranges = [r for r in ranges if within is None or within(r.min_key, r.max_key)]
        self.index = 0
        self.records: list[Record] | None = None
        self.pos = 0

    def _settle(self) -> None:
        if self.records is not None and self.pos >= len(self.records):
            self.records = None
            self.index += 1

    def key(self) -> str | None:
        self._settle()
        if self.records is not None:
            return self.records[self.pos].path
        if self.index < len(self.ranges):
            return self.ranges[self.index].min_key
        return None

    def header(self) -> RangeInfo | None:
        self._settle()
        if self.records is None and self.index < len(self.ranges):
            return self.ranges[self.index]
        return None

    def skip(self) -> None:
        self.index += 1

    def open(self) -> None:
        self.records = self.committed.read_range(self.ns, self.ranges[self.index].id).records
        self.pos = 0

    def take(self) -> Record:
        assert self.records is not None
        record = self.records[self.pos]
        self.pos += 1
        return record
