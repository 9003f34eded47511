"""Branch records on their own: the compare-and-set loop (tenacity: attempts and the error
once they run out), head moves that lose to another writer, token swaps and the reflog."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.core.datasets.errors import NotFoundError, TooManyRetriesError
from sartiq_storage.core.datasets.model import ReflogEntry, Repository
from sartiq_storage.core.datasets.ranges import Record
from sartiq_storage.services.datasets.branches import (
    MAX_CAS_ATTEMPTS,
    Branches,
    MovedError,
    new_token,
)
from sartiq_storage.services.datasets.records import BranchRecord, RepoRecord
from sartiq_storage.services.datasets.staging import Staging

REPO = RepoRecord(Repository("b", "datasets/b", "main", 0), "datasets/b", "uid1")


@pytest.fixture
def branches() -> Branches:
    kv = MemoryKV()
    found = Branches(kv, Staging(kv))
    assert found.create(REPO, "main", BranchRecord("c0", "t0"))
    return found


def test_create_refuses_a_taken_name_and_get_reads_it(branches: Branches) -> None:
    assert not branches.create(REPO, "main", BranchRecord("c9", "t9"))
    record, raw = branches.get(REPO, "main")
    assert record == BranchRecord("c0", "t0")
    assert raw == record.encode()
    with pytest.raises(NotFoundError):
        branches.get(REPO, "missing")


def test_update_applies_the_change_or_keeps_the_record(branches: Branches) -> None:
    moved = branches.update(REPO, "main", lambda cur: replace(cur, commit_id="c1"))
    assert moved.commit_id == "c1" == branches.get(REPO, "main")[0].commit_id
    kept = branches.update(REPO, "main", lambda cur: None)
    assert kept == moved


def test_update_retries_a_lost_compare_and_set(branches: Branches) -> None:
    calls = 0

    def change(cur: BranchRecord) -> BranchRecord:
        nonlocal calls
        calls += 1
        if calls <= 3:  # another writer moves the record after we read it
            branches.kv.set(
                REPO.partition, "branches/main", replace(cur, staging_token=f"x{calls}").encode()
            )
        return replace(cur, commit_id="c2")

    result = branches.update(REPO, "main", change)
    assert calls == 4
    assert result == BranchRecord("c2", "x3")


def test_update_gives_up_after_max_attempts(branches: Branches) -> None:
    calls = 0

    def always_loses(cur: BranchRecord) -> BranchRecord:
        nonlocal calls
        calls += 1
        branches.kv.set(
            REPO.partition, "branches/main", replace(cur, staging_token=new_token()).encode()
        )
        return replace(cur, commit_id="never")

    with pytest.raises(TooManyRetriesError, match="branch 'main' kept changing"):
        branches.update(REPO, "main", always_loses)
    assert calls == MAX_CAS_ATTEMPTS


def test_advance_refuses_a_head_that_moved(branches: Branches) -> None:
    branches.advance(REPO, "main", "c0", "c1")
    with pytest.raises(MovedError) as moved:
        branches.advance(REPO, "main", "c0", "c2")
    assert moved.value.record.commit_id == "c1"


def test_swap_drops_the_absorbed_tokens_only_when_it_wins(branches: Branches) -> None:
    record = Record("p", "i", "a", 1, "c", "t", 0, {}, 0)
    branches.staging.put("sealed", "p", record)
    _current, raw = branches.get(REPO, "main")
    new = BranchRecord("c1", "t0")
    assert not branches.swap(REPO, "main", b"stale", new, ["sealed"])
    assert branches.staging.get(["sealed"], "p") == (True, record)
    assert branches.swap(REPO, "main", raw, new, ["sealed"])
    assert branches.staging.get(["sealed"], "p") == (False, None)


def test_delete_drops_the_record_and_its_tokens(branches: Branches) -> None:
    branches.staging.put("t0", "p", None)
    branches.delete(REPO, "main")
    assert branches.staging.is_empty("t0")
    with pytest.raises(NotFoundError):
        branches.get(REPO, "main")


def test_page_hides_hidden_branches_unless_asked(branches: Branches) -> None:
    branches.create(REPO, "tmp", BranchRecord("c0", "t1", hidden=True))
    assert [
        b.name for b in branches.page(REPO, prefix="", after="", amount=10, show_hidden=False)
    ] == ["main"]
    shown = branches.page(REPO, prefix="", after="", amount=10, show_hidden=True)
    assert [b.name for b in shown] == ["main", "tmp"]


def test_reflog_is_newest_first(branches: Branches) -> None:
    first = ReflogEntry("main", "c0", "c1", "hard_reset to c1", "me", 1)
    second = ReflogEntry("main", "c1", "c0", "hard_reset to c0", "me", 2)
    branches.add_reflog(REPO, first)
    branches.add_reflog(REPO, second)
    assert branches.reflog(REPO, "main") == [second, first]
