"""Engines for the dataset tests: memory, SQLite + local disk, PostgreSQL, S3 (moto), and
DynamoDB (moto) + local disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV, SqlKV
from sartiq_storage.adapters.stores import LocalStore, MemoryStore
from sartiq_storage.datasets import NativeDatasetEngine
from sartiq_storage.testing.moto_server import moto_dynamo_kv
from tests.support.db import postgres_database, sqlite_database

REPO = "repo1"


@pytest.fixture(params=["memory", "sqlite-local", "postgres", "memory-s3", "dynamodb-local"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NativeDatasetEngine]:
    """Each engine test runs on every KV and store backend."""
    if request.param == "memory":
        yield NativeDatasetEngine(MemoryKV(), MemoryStore())
    elif request.param == "sqlite-local":
        with sqlite_database(tmp_path) as db:
            yield NativeDatasetEngine(SqlKV(db), LocalStore(tmp_path / "store"))
    elif request.param == "postgres":
        with postgres_database() as db:
            yield NativeDatasetEngine(SqlKV(db), LocalStore(tmp_path / "store"))
    elif request.param == "memory-s3":
        yield NativeDatasetEngine(MemoryKV(), request.getfixturevalue("s3_store"))
    else:
        kv = moto_dynamo_kv(request.getfixturevalue("moto_endpoint"))
        yield NativeDatasetEngine(kv, LocalStore(tmp_path / "store"))
        kv.close()


@pytest.fixture
def memory_engine() -> NativeDatasetEngine:
    return NativeDatasetEngine(MemoryKV(), MemoryStore())


@pytest.fixture
def repo(engine: NativeDatasetEngine) -> str:
    engine.create_repository(REPO, f"datasets/{REPO}")
    return REPO
