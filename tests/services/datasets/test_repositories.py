"""Repository records and settings: visibility, paging, protection and GC rules."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.core.datasets.errors import (
    NotFoundError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
)
from sartiq_storage.core.datasets.model import GcRules, Repository
from sartiq_storage.services.datasets.records import RepoRecord
from sartiq_storage.services.datasets.repositories import DEFAULT_RETENTION_DAYS, Repositories


def _record(name: str, *, read_only: bool = False) -> RepoRecord:
    return RepoRecord(Repository(name, f"datasets/{name}", "main", 0, read_only), name, "u")


def test_publish_once_then_get_page_and_delete() -> None:
    repos = Repositories(MemoryKV())
    with pytest.raises(NotFoundError):
        repos.get("a")
    assert repos.publish(_record("a"))
    assert not repos.publish(_record("a"))
    assert repos.publish(_record("b"))
    assert repos.get("a") == _record("a")
    assert [r.name for r in repos.page(after="", amount=10)] == ["a", "b"]
    assert [r.name for r in repos.page(after="a", amount=10)] == ["b"]
    repos.delete(repos.get("a"))
    assert [r.repository.name for r in repos.records()] == ["b"]


def test_checks_and_settings() -> None:
    repos = Repositories(MemoryKV())
    record = _record("a")
    repos.check_writable(record)
    with pytest.raises(ReadOnlyRepositoryError):
        repos.check_writable(_record("ro", read_only=True))
    repos.set_protection(record, ["main", "release-*"])
    assert repos.protection(record) == ["main", "release-*"]
    with pytest.raises(ProtectedBranchError):
        repos.check_unprotected(record, "release-1")
    repos.check_unprotected(record, "dev")
    assert repos.gc_rules(record) is None
    assert repos.effective_gc_rules(record) == GcRules(DEFAULT_RETENTION_DAYS)
    repos.set_gc_rules(record, GcRules(7, {"main": -1}))
    assert repos.effective_gc_rules(record) == GcRules(7, {"main": -1})
