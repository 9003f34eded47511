"""Small helpers shared by the dataset tests."""

from __future__ import annotations

from sartiq_storage.datasets import NativeDatasetEngine


def read(engine: NativeDatasetEngine, repo: str, ref: str, path: str) -> bytes:
    return b"".join(engine.get_object(repo, ref, path))


def paths(engine: NativeDatasetEngine, repo: str, ref: str, prefix: str = "") -> list[str]:
    out: list[str] = []
    after = ""
    while True:
        page = engine.list_objects(repo, ref, prefix=prefix, after=after, amount=1000)
        out += [item.path for item in page.items]
        if not page.has_more:
            return out
        after = page.next_offset


def snapshot(engine: NativeDatasetEngine, repo: str, ref: str) -> dict[str, bytes]:
    return {p: read(engine, repo, ref, p) for p in paths(engine, repo, ref)}
