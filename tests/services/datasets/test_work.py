"""Work proportionality: commits, diffs and merges touch only the ranges that changed.

Counted, not timed, so they hold on a loaded 2-core CI machine.
"""

from __future__ import annotations

import bisect

import pytest

from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.ranges import RangeInfo
from sartiq_storage.datasets import NativeDatasetEngine

REPO = "big-repo"
N = 50_000


def _entry(path: str, version: int = 0) -> Entry:
    return Entry(path, f"data/00/{version:064d}", version, f"{version:032x}", "image/jpeg", 1)


@pytest.fixture(scope="module")
def big() -> tuple[NativeDatasetEngine, str]:
    from sartiq_storage.adapters.datasets.kv import MemoryKV
    from sartiq_storage.adapters.stores import MemoryStore

    engine = NativeDatasetEngine(MemoryKV(), MemoryStore())
    engine.create_repository(REPO, f"datasets/{REPO}")
    engine.stage_entries(REPO, "main", (_entry(f"images/{i:06d}.jpg") for i in range(N)))
    base = engine.commit(REPO, "main", "50k objects")
    return engine, base.id


def _touched(ranges: list[RangeInfo], paths: list[str]) -> set[str]:
    max_keys = [r.max_key for r in ranges]
    return {ranges[min(bisect.bisect_left(max_keys, p), len(ranges) - 1)].id for p in paths}


def test_tree_has_many_ranges(big: tuple[NativeDatasetEngine, str]) -> None:
    engine, base = big
    ranges = engine.tree_ranges(REPO, base)
    assert sum(r.count for r in ranges) == N
    assert len(ranges) >= 10


def test_small_commit_touches_only_its_ranges(big: tuple[NativeDatasetEngine, str]) -> None:
    engine, base = big
    engine.create_branch(REPO, "small", base)
    changed = [f"images/{i:06d}.jpg" for i in range(7, N, N // 10)][:10]
    engine.stage_entries(REPO, "small", (_entry(p, 1) for p in changed))
    touched = _touched(engine.tree_ranges(REPO, base), changed)
    engine.committed.reset_counters()
    commit = engine.commit(REPO, "small", "10 changes")
    assert engine.committed.ranges_read <= len(touched)
    assert engine.committed.ranges_written + engine.committed.metaranges_written <= (
        len(touched) + 1
    )

    engine.committed.reset_counters()
    diff = engine.diff(REPO, base, commit.id, mode="two_dot")
    assert sorted(d.path for d in diff) == sorted(changed)
    assert engine.committed.ranges_read <= 2 * len(touched)  # both sides of differing ranges

    engine.committed.reset_counters()
    engine.merge(REPO, "small", "main")
    assert engine.committed.ranges_read <= 4 * len(touched)
    assert engine.committed.ranges_written <= len(touched)


def test_reads_at_a_commit_open_one_range(big: tuple[NativeDatasetEngine, str]) -> None:
    engine, base = big
    engine.committed.reset_counters()
    entry = engine.stat_object(REPO, base, "images/012345.jpg")
    assert entry.path == "images/012345.jpg"
    assert engine.committed.ranges_read == 1


def test_log_by_path_skips_other_ranges(big: tuple[NativeDatasetEngine, str]) -> None:
    engine, base = big
    engine.create_branch(REPO, "history", base)
    for version in (2, 3):
        engine.stage_entries(REPO, "history", [_entry("images/000001.jpg", version)])
        engine.commit(REPO, "history", f"v{version}")
    engine.committed.reset_counters()
    log = engine.log(REPO, "history", objects=["images/000001.jpg"])
    assert [c.message for c in log] == ["v3", "v2", "50k objects"]
    assert engine.committed.ranges_read <= 8
