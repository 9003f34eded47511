"""One KV driver suite over every backend, as lakeFS's kvtest does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.adapters.datasets.kv import KV, MemoryKV, SqlKV, prefix_upper_bound
from sartiq_storage.testing.moto_server import moto_dynamo_kv
from tests.support.db import postgres_database, sqlite_database


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KV]:
    if request.param == "memory":
        yield MemoryKV()
    elif request.param == "sqlite":
        with sqlite_database(tmp_path) as db:
            yield SqlKV(db)
    elif request.param == "postgres":
        with postgres_database() as db:
            yield SqlKV(db)
    else:
        kv = moto_dynamo_kv(request.getfixturevalue("moto_endpoint"))
        yield kv
        kv.close()


def test_get_set_delete(kv: KV) -> None:
    assert kv.get("p", "k") is None
    kv.set("p", "k", b"v1")
    kv.set("p", "k", b"v2")
    assert kv.get("p", "k") == b"v2"
    assert kv.get("other", "k") is None
    kv.delete("p", "k")
    kv.delete("p", "k")
    assert kv.get("p", "k") is None


def test_set_if(kv: KV) -> None:
    assert kv.set_if("p", "k", b"a", None)
    assert not kv.set_if("p", "k", b"b", None)
    assert not kv.set_if("p", "k", b"b", b"wrong")
    assert kv.set_if("p", "k", b"b", b"a")
    assert kv.get("p", "k") == b"b"


def test_scan_is_ordered_by_code_point(kv: KV) -> None:
    keys = ["b", "a", "a/1", "a/2", "B", "é", "z", "a-", "a\u4e00", "ab"]
    kv.set_many("p", [(k, k.encode()) for k in keys])
    kv.set("q", "a", b"x")
    assert [k for k, _ in kv.scan("p")] == sorted(keys)
    assert [k for k, _ in kv.scan("p", prefix="a/")] == ["a/1", "a/2"]
    assert [k for k, _ in kv.scan("p", start="a/2")] == [k for k in sorted(keys) if k >= "a/2"]
    assert [v for _, v in kv.scan("p", prefix="é")] == ["é".encode()]
    assert [k for k, _ in kv.scan("p", prefix="a", after="a/1")] == ["a/2", "ab", "a\u4e00"]


def test_scan_pages_through_many_keys(kv: KV) -> None:
    kv.set_many("p", [(f"k{i:05d}", b"x") for i in range(2500)])
    assert len(list(kv.scan("p"))) == 2500
    assert len(list(kv.scan("p", prefix="k01"))) == 1000
    kv.delete_prefix("p", "k00")
    assert len(list(kv.scan("p"))) == 1500
    kv.delete_prefix("p")
    assert list(kv.scan("p")) == []


def test_set_if_has_one_winner_under_contention(kv: KV) -> None:
    kv.set("p", "counter", b"0")
    wins: list[int] = []

    def bump() -> None:
        for _ in range(20):
            while True:
                current = kv.get("p", "counter")
                assert current is not None
                if kv.set_if("p", "counter", str(int(current) + 1).encode(), current):
                    wins.append(1)
                    break

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kv.get("p", "counter") == b"80"
    assert len(wins) == 80


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a\U0010ffff") == "b"


def test_get_many_answers_in_order_with_the_missing_as_none(kv: KV) -> None:
    kv.set("p", "a", b"1")
    kv.set("q", "a", b"2")
    kv.set("p", "b", b"3")
    asked = [("q", "a"), ("p", "missing"), ("p", "a"), ("p", "b"), ("p", "a")]
    assert kv.get_many(asked) == [b"2", None, b"1", b"3", b"1"]
    assert kv.get_many([]) == []
    many = [("p", f"k{i:03d}") for i in range(130)]  # past DynamoDB's 100 keys a call
    kv.set_many("p", [(k, k.encode()) for _p, k in many[::2]])
    assert kv.get_many(many) == [
        k.encode() if i % 2 == 0 else None for i, (_p, k) in enumerate(many)
    ]
