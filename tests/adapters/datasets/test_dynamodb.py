"""DynamoDB as the dataset metadata store (moto's server): the same answers as MemoryKV,
its table created on first use, the settings that select it, and concurrent commits from
several processes that lose no update."""

from __future__ import annotations

import contextlib
import multiprocessing
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sartiq_storage.adapters.datasets.dynamodb import DynamoKV
from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.config import Settings
from sartiq_storage.datasets import NativeDatasetEngine, NoChangesError, open_engine
from sartiq_storage.testing.moto_server import (
    TEST_KEY_ID,
    TEST_SECRET,
    moto_dynamo_kv,
    moto_dynamodb,
)
from tests.support.datasets import paths

# Where UTF-16 order (or a signed byte compare) would disagree with code point order.
CHARS = st.sampled_from(
    ["a", "b", "/", "-", "\x7f", "\x80", "é", "\u4e00", "\uffff", "\U00010000", "\U0010fffd"]
)
KEYS = st.text(CHARS, min_size=1, max_size=4)
BOUNDS = st.text(CHARS, max_size=3)
VALUES = st.binary(max_size=8)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, VALUES),
        st.tuples(st.just("set_if"), KEYS, VALUES, st.one_of(st.none(), VALUES)),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("delete_prefix"), BOUNDS),
        st.tuples(st.just("set_many"), st.lists(st.tuples(KEYS, VALUES), max_size=30)),
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def shared_kv(moto_endpoint: str) -> DynamoKV:
    """One table for the whole property test; every example takes its own partition."""
    return moto_dynamo_kv(moto_endpoint)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, prefix=BOUNDS, start=BOUNDS, after=BOUNDS)
def test_dynamodb_agrees_with_memory(
    shared_kv: DynamoKV, ops: list[tuple], prefix: str, start: str, after: str
) -> None:
    """Every operation answers as MemoryKV's, and scans come in code point order (DynamoDB
    sorts binary keys by UTF-8 bytes)."""
    partition = uuid.uuid4().hex
    memory = MemoryKV()
    for op, *args in ops:
        if op == "set_if":
            key, value, expected = args
            assert shared_kv.set_if(partition, key, value, expected) == memory.set_if(
                partition, key, value, expected
            )
        else:
            for kv in (shared_kv, memory):
                getattr(kv, op)(partition, *args)
    assert list(shared_kv.scan(partition)) == list(memory.scan(partition))
    assert list(shared_kv.scan(partition, prefix, start, after)) == list(
        memory.scan(partition, prefix, start, after)
    )
    for key, _ in memory.scan(partition):
        assert shared_kv.get(partition, key) == memory.get(partition, key)


def test_scan_pages_by_the_scan_limit(moto_endpoint: str) -> None:
    kv = DynamoKV(moto_dynamodb(moto_endpoint), f"kv-{uuid.uuid4().hex[:12]}", scan_limit=7)
    kv.set_many("p", [(f"k{i:03d}", b"x") for i in range(50)])
    assert [k for k, _ in kv.scan("p", prefix="k0", after="k003")] == [
        f"k{i:03d}" for i in range(4, 50)
    ]
    kv.delete_prefix("p", "k01")
    assert len(list(kv.scan("p"))) == 40


def test_settings_select_dynamodb_and_create_the_table(moto_endpoint: str) -> None:
    table = f"kvstore-{uuid.uuid4().hex[:12]}"
    chosen = Settings(
        DATASETS_KV="dynamodb",
        DATASETS_DYNAMODB_TABLE=table,
        DATASETS_DYNAMODB_ENDPOINT=moto_endpoint,
        DATASETS_DYNAMODB_REGION="eu-central-1",
        DATASETS_DYNAMODB_ACCESS_KEY_ID=TEST_KEY_ID,
        DATASETS_DYNAMODB_SECRET_ACCESS_KEY=TEST_SECRET,
    )
    engine = open_engine(chosen)
    kv = engine.kv
    assert isinstance(kv, DynamoKV)
    described = kv.client.describe_table(TableName=table)["Table"]
    assert {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]} == {
        "PartitionKey": "B",
        "ItemKey": "B",
    }
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    again = open_engine(chosen)  # an existing table is reused
    assert again.kv.get("graveler", "repos/none") is None
    again.close()
    engine.close()


def _commit_loop(endpoint: str, table: str, folder: str, name: str, count: int) -> None:
    """One process: its own client and engine on the shared table and store."""
    engine = NativeDatasetEngine(DynamoKV(moto_dynamodb(endpoint), table), LocalStore(Path(folder)))
    for i in range(count):
        engine.put_object("shared", "main", f"{name}/{i}", f"{name}-{i}".encode())
        with contextlib.suppress(NoChangesError):  # another process's commit took it along
            engine.commit("shared", "main", f"{name} {i}")
    engine.kv.close()


def test_concurrent_commits_from_processes_lose_no_update(
    moto_endpoint: str, tmp_path: Path
) -> None:
    kv = moto_dynamo_kv(moto_endpoint)
    engine = NativeDatasetEngine(kv, LocalStore(tmp_path))
    engine.create_repository("shared", "datasets/shared")
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(
            target=_commit_loop, args=(moto_endpoint, kv.table, str(tmp_path), f"p{n}", 6)
        )
        for n in range(3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert paths(engine, "shared", "main@") == sorted(
        f"p{n}/{i}" for n in range(3) for i in range(6)
    )
    assert engine.diff_uncommitted("shared", "main") == []
    kv.close()
