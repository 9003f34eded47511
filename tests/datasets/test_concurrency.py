"""Concurrent commits on one branch never lose an update."""

from __future__ import annotations

import contextlib
import threading

from sartiq_storage.datasets import NativeDatasetEngine, NoChanges
from tests.datasets.helpers import paths


def test_concurrent_writers_and_committers(engine: NativeDatasetEngine, repo: str) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                engine.put_object(repo, "main", f"w{n}/{i}", f"{n}-{i}".encode())
                # NoChanges: another thread's commit took this write with it.
                with contextlib.suppress(NoChanges):
                    engine.commit(repo, "main", f"w{n} {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = sorted(f"w{n}/{i}" for n in range(4) for i in range(5))
    assert paths(engine, repo, "main@") == expected
    assert engine.diff_uncommitted(repo, "main") == []


def test_two_engines_share_a_branch(memory_engine: NativeDatasetEngine) -> None:
    """Two engines on one KV and store stand in for two processes: CAS keeps both commits."""
    other = NativeDatasetEngine(memory_engine.kv, memory_engine.store)
    memory_engine.create_repository("shared", "datasets/shared")
    errors: list[BaseException] = []

    def worker(e: NativeDatasetEngine, name: str) -> None:
        try:
            for i in range(10):
                e.put_object("shared", "main", f"{name}/{i}", b"x")
                with contextlib.suppress(NoChanges):
                    e.commit("shared", "main", f"{name} {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(memory_engine, "a")),
        threading.Thread(target=worker, args=(other, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(paths(memory_engine, "shared", "main@")) == 20
