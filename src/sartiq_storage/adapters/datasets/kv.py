"""The dataset engine's metadata store: lakeFS's small KV interface, with compare-and-set.

``(partition, key) → value`` bytes, read-after-write consistent, scanned in key order (code
point order, the order Python sorts strings in), with ``set_if`` as the only synchronisation
primitive the engine needs. Two backends: :class:`SqlKV` (SQLite or PostgreSQL through
SQLAlchemy, table ``dataset_kv``) and :class:`MemoryKV` for tests.
"""

from __future__ import annotations

import bisect
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import DatasetKV

SCAN_BATCH = 1000


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: none)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class KV(ABC):
    @abstractmethod
    def get(self, partition: str, key: str) -> bytes | None: ...

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """The values of ``(partition, key)`` pairs, in their order, each read consistently
        (not one snapshot): one round trip where the backend has one (DynamoDB)."""
        return [self.get(partition, key) for partition, key in items]

    @abstractmethod
    def set(self, partition: str, key: str, value: bytes) -> None: ...

    @abstractmethod
    def set_many(self, partition: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Unconditional upserts in one round trip (staging many entries, imports)."""

    @abstractmethod
    def set_if(self, partition: str, key: str, value: bytes, expected: bytes | None) -> bool:
        """Write only if the current value is ``expected`` (None: absent); True if it won."""

    @abstractmethod
    def delete(self, partition: str, key: str) -> None: ...

    @abstractmethod
    def delete_prefix(self, partition: str, prefix: str = "") -> None:
        """Drop every key under ``prefix`` (a whole partition when empty)."""

    @abstractmethod
    def scan(
        self, partition: str, prefix: str = "", start: str = "", after: str = ""
    ) -> Iterator[tuple[str, bytes]]:
        """Keys ``>= start`` and ``> after`` that begin with ``prefix``, in order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default has none."""


class MemoryKV(KV):
    """Dicts with a sorted key list per partition, under one lock."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, bytes]] = {}
        self._keys: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def get(self, partition: str, key: str) -> bytes | None:
        with self._lock:
            return self._data.get(partition, {}).get(key)

    def _put(self, partition: str, key: str, value: bytes) -> None:
        values = self._data.setdefault(partition, {})
        if key not in values:
            bisect.insort(self._keys.setdefault(partition, []), key)
        values[key] = bytes(value)

    def set(self, partition: str, key: str, value: bytes) -> None:
        with self._lock:
            self._put(partition, key, value)

    def set_many(self, partition: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self._lock:
            for key, value in items:
                self._put(partition, key, value)

    def set_if(self, partition: str, key: str, value: bytes, expected: bytes | None) -> bool:
        with self._lock:
            if self._data.get(partition, {}).get(key) != expected:
                return False
            self._put(partition, key, value)
            return True

    def delete(self, partition: str, key: str) -> None:
        with self._lock:
            values = self._data.get(partition, {})
            if values.pop(key, None) is not None:
                keys = self._keys[partition]
                del keys[bisect.bisect_left(keys, key)]

    def delete_prefix(self, partition: str, prefix: str = "") -> None:
        with self._lock:
            values = self._data.get(partition)
            if values is None:
                return
            keys = self._keys[partition]
            lo = bisect.bisect_left(keys, prefix)
            hi = lo
            while hi < len(keys) and keys[hi].startswith(prefix):
                values.pop(keys[hi], None)
                hi += 1
            del keys[lo:hi]

    def scan(
        self, partition: str, prefix: str = "", start: str = "", after: str = ""
    ) -> Iterator[tuple[str, bytes]]:
        position = max(prefix, start)
        inclusive = not after or position > after
        position = position if inclusive else after
        while True:
            with self._lock:
                keys = self._keys.get(partition, [])
                values = self._data.get(partition, {})
                find = bisect.bisect_left if inclusive else bisect.bisect_right
                i = find(keys, position)
                batch = [(k, values[k]) for k in keys[i : i + SCAN_BATCH]]
            for key, value in batch:
                if not key.startswith(prefix):
                    return
                yield key, value
            if len(batch) < SCAN_BATCH:
                return
            position, inclusive = batch[-1][0], False


class SqlKV(KV):
    """The ``dataset_kv`` table on SQLite or PostgreSQL.

    ``set_if`` is one conditional statement (``UPDATE … WHERE value = expected`` or
    ``INSERT … ON CONFLICT DO NOTHING``) whose returned row says whether it won. Key order uses
    byte collation on PostgreSQL (``COLLATE "C"``), which for UTF-8 is code point order;
    SQLite's default BINARY collation already is.
    """

    def __init__(self, database: Database, *, owns_database: bool = False) -> None:
        self.database = database
        self.owns_database = owns_database
        table = DatasetKV.__table__
        assert isinstance(table, Table)
        self.table: Table = table
        self._postgres = database.is_postgres
        self._get = select(table.c.value).where(
            and_(table.c.partition == bindparam("p"), table.c.key == bindparam("k"))
        )

    def close(self) -> None:
        if self.owns_database:
            self.database.dispose()

    def _key_col(self) -> ColumnElement[Any]:
        col: ColumnElement[Any] = self.table.c.key
        return col.collate("C") if self._postgres else col

    def _insert(self) -> Any:
        return (postgresql.insert if self._postgres else sqlite.insert)(self.table)

    def _where(self, partition: str, key: str) -> ColumnElement[bool]:
        return and_(self.table.c.partition == partition, self.table.c.key == key)

    def get(self, partition: str, key: str) -> bytes | None:
        # A read transaction: on SQLite a deferred BEGIN, not the writers' BEGIN IMMEDIATE
        # (a read neither takes nor waits for the write lock); the statement is built once.
        with self.database.read_connection() as conn:
            row = conn.execute(self._get, {"p": partition, "k": key}).first()
        return None if row is None else bytes(row[0])

    def set(self, partition: str, key: str, value: bytes) -> None:
        self.set_many(partition, [(key, value)])

    def set_many(self, partition: str, items: Iterable[tuple[str, bytes]]) -> None:
        rows = [{"partition": partition, "key": k, "value": v} for k, v in items]
        if not rows:
            return
        stmt = self._insert()
        stmt = stmt.on_conflict_do_update(
            index_elements=["partition", "key"], set_={"value": stmt.excluded.value}
        )
        with self.database.engine.begin() as conn:
            for i in range(0, len(rows), 5000):
                conn.execute(stmt, rows[i : i + 5000])

    def set_if(self, partition: str, key: str, value: bytes, expected: bytes | None) -> bool:
        # RETURNING rather than rowcount: psycopg reports -1 for INSERT … ON CONFLICT.
        with self.database.engine.begin() as conn:
            if expected is None:
                stmt = self._insert().values(partition=partition, key=key, value=value)
                stmt = stmt.on_conflict_do_nothing().returning(self.table.c.key)
            else:
                stmt = (
                    update(self.table)
                    .where(self._where(partition, key), self.table.c.value == expected)
                    .values(value=value)
                    .returning(self.table.c.key)
                )
            return conn.execute(stmt).first() is not None

    def delete(self, partition: str, key: str) -> None:
        with self.database.engine.begin() as conn:
            conn.execute(delete(self.table).where(self._where(partition, key)))

    def delete_prefix(self, partition: str, prefix: str = "") -> None:
        condition = self.table.c.partition == partition
        if prefix:
            condition = and_(condition, self._key_col() >= prefix)
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                condition = and_(condition, self._key_col() < upper)
        with self.database.engine.begin() as conn:
            conn.execute(delete(self.table).where(condition))

    def scan(
        self, partition: str, prefix: str = "", start: str = "", after: str = ""
    ) -> Iterator[tuple[str, bytes]]:
        key = self._key_col()
        upper = prefix_upper_bound(prefix) if prefix else None
        position = max(prefix, start)
        inclusive = not after or position > after
        position = position if inclusive else after
        while True:
            condition = and_(
                self.table.c.partition == partition,
                key >= position if inclusive else key > position,
            )
            if upper is not None:
                condition = and_(condition, key < upper)
            query = (
                select(self.table.c.key, self.table.c.value)
                .where(condition)
                .order_by(key)
                .limit(SCAN_BATCH)
            )
            with self.database.read_connection() as conn:
                batch = [(str(k), bytes(v)) for k, v in conn.execute(query)]
            for k, v in batch:
                if not k.startswith(prefix):
                    return
                yield k, v
            if len(batch) < SCAN_BATCH:
                return
            position, inclusive = batch[-1][0], False
