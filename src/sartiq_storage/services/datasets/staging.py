"""Uncommitted changes: one KV partition per staging token, ``path → record | tombstone``.

A branch's writes go to its current token; a commit seals it and installs a fresh one, so
writes never wait for a commit. Reads consult tokens newest first, then the committed tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.ranges import Record
from sartiq_storage.services.datasets.committed import Change

TOMBSTONE = b""


def partition(token: str) -> str:
    return f"staging/{token}"


def encode(record: Record | None) -> bytes:
    if record is None:
        return TOMBSTONE
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def decode(data: bytes) -> Record | None:
    if data == TOMBSTONE:
        return None
    return Record.from_json(json.loads(data.decode("utf-8", "surrogatepass")))


class Staging:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def put(self, token: str, path: str, record: Record | None) -> None:
        self.kv.set(partition(token), path, encode(record))

    def raw(self, token: str, path: str) -> bytes | None:
        """The token's stored value for ``path`` (a tombstone is ``b""``), or None."""
        return self.kv.get(partition(token), path)

    def put_if(self, token: str, path: str, record: Record, expected: bytes | None) -> bool:
        """Stage ``record`` if the token still holds ``expected`` for ``path`` (None: nothing)."""
        return self.kv.set_if(partition(token), path, encode(record), expected)

    def put_if_absent(self, token: str, path: str, record: Record) -> bool:
        """Stage ``record`` unless the token holds a live record for ``path`` (absent or a
        staged delete: yes), by one compare-and-set; False when another writer's is there."""
        current = self.kv.get(partition(token), path)
        if current is not None and current != TOMBSTONE:
            return False
        return self.kv.set_if(partition(token), path, encode(record), current)

    def put_many(self, token: str, changes: Iterable[Change]) -> None:
        self.kv.set_many(partition(token), ((p, encode(r)) for p, r in changes))

    def get(self, tokens: Sequence[str], path: str) -> tuple[bool, Record | None]:
        """(found, record): found with None means a staged delete."""
        for token in tokens:
            data = self.kv.get(partition(token), path)
            if data is not None:
                return True, decode(data)
        return False, None

    def changes(self, tokens: Sequence[str], *, prefix: str = "", after: str = "") -> list[Change]:
        """Every staged change under ``prefix`` past ``after``, sorted; newer tokens win."""
        merged: dict[str, Record | None] = {}
        for token in reversed(tokens):
            for path, data in self.kv.scan(partition(token), prefix=prefix, after=after):
                merged[path] = decode(data)
        return sorted(merged.items(), key=lambda item: item[0])

    def is_empty(self, token: str) -> bool:
        return next(iter(self.kv.scan(partition(token))), None) is None

    def drop(self, token: str) -> None:
        self.kv.delete_prefix(partition(token))

    def remove(self, token: str, path: str) -> None:
        self.kv.delete(partition(token), path)

    def remove_prefix(self, token: str, prefix: str) -> None:
        self.kv.delete_prefix(partition(token), prefix)
