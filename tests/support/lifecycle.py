"""Fixtures for lifecycle tests: the development policy and an embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.lifecycle import LifecyclePolicy, load_policy


@pytest.fixture
def dev_policy() -> LifecyclePolicy:
    return load_policy("development")


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")
