"""Throttling and 5xx answers are retried with backoff; what still fails is a typed error.

Each test runs behind the fault proxy on every selected S3 server (moto, SeaweedFS).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from sartiq_storage.adapters.stores import S3Store
from sartiq_storage.core.errors import PreconditionFailedError, StoreUnavailableError
from sartiq_storage.testing.moto_server import moto_store
from tests.support.fault_proxy import fault_proxy
from tests.support.s3_servers import S3Server


def _store(
    endpoint: str, bucket: str, attempts: int = 5, flavor: str | None = None, timeout: float = 5
) -> S3Store:
    return moto_store(endpoint, bucket, max_attempts=attempts, read_timeout=timeout, flavor=flavor)


@pytest.mark.parametrize("fault", ["503", "500"])
def test_every_operation_survives_transient_faults(
    s3_server: S3Server, server_bucket: str, fault: str
) -> None:
    # Every other request fails: each operation needs at least one retry.
    with fault_proxy(s3_server.endpoint, lambda method, path, n: fault if n % 2 == 1 else None) as (
        url,
        proxy,
    ):
        store = _store(url, server_bucket)
        store.put("r/a", b"payload", content_type="text/plain")
        assert store.head("r/a").size == 7
        assert store.get_bytes("r/a") == b"payload"
        store.copy("r/a", "r/b", content_type="text/plain", cache_control="no-cache")
        store.copy("r/a", "r/c")
        assert [i.key for i in store.list("r/")] == ["r/a", "r/b", "r/c"]
        assert store.delete_many(["r/b"]) == []
        store.delete("r/a")
        assert not store.exists("r/a")
        assert proxy.faults >= 8
        store.close()


def test_persistent_failure_is_a_typed_error(s3_server: S3Server, server_bucket: str) -> None:
    with fault_proxy(s3_server.endpoint, lambda method, path, n: "503") as (url, proxy):
        store = _store(url, server_bucket, attempts=2)
        with pytest.raises(StoreUnavailableError):
            store.put("x", b"1")
        with pytest.raises(StoreUnavailableError):
            store.head("x")
        with pytest.raises(StoreUnavailableError):
            store.copy("x", "y", content_type="text/plain")
        failures = store.delete_many(["x", "y"])
        assert {f.key for f in failures} == {"x", "y"}
        assert proxy.count >= 4
        store.close()


def test_connection_resets_are_retried(s3_server: S3Server, server_bucket: str) -> None:
    with fault_proxy(
        s3_server.endpoint, lambda method, path, n: "reset" if n % 3 == 1 else None
    ) as (
        url,
        _,
    ):
        store = _store(url, server_bucket)
        store.put("z/1", b"abc")
        assert store.get_bytes("z/1") == b"abc"
        store.close()


# -- requests that neither client repeats on its own ------------------------------------------
# A create-only PUT (obstore does not repeat it after a transport failure), a create-only COPY
# that boto3 repeats after its answer was lost (the repeat meets the object the first attempt
# made), a delete, a copy or a listing whose answer was cut: each must end as if no fault
# happened, and a genuine refusal must stay a refusal.


def _first(kind: str, method: str | None = None) -> Callable[[str, str, int], str | None]:
    """A fault on the first request (of ``method``, when given), none after."""
    done = False

    def decide(m: str, path: str, n: int) -> str | None:
        nonlocal done
        if done or (method is not None and m != method):
            return None
        done = True
        return kind

    return decide


@pytest.mark.parametrize("kind", ["lost", "reset", "timeout"])
def test_create_only_put_is_repeated_and_knows_its_own_write(
    s3_server: S3Server, server_bucket: str, kind: str
) -> None:
    with fault_proxy(s3_server.endpoint, _first(kind, "PUT"), stall=1.5) as (url, proxy):
        store = _store(url, server_bucket, timeout=1)
        assert store.put(f"c/{kind}", b"mine", if_absent=True).size == 4
        assert (proxy.by_kind[kind], proxy.retries) == (1, 1)
        assert store.get_bytes(f"c/{kind}") == b"mine"
        # A genuine refusal stays one, after a fault as without.
        with pytest.raises(PreconditionFailedError):
            store.put(f"c/{kind}", b"other", if_absent=True)
        store.close()
    with fault_proxy(s3_server.endpoint, _first(kind, "PUT"), stall=1.5) as (url, proxy):
        store = _store(url, server_bucket, timeout=1)
        with pytest.raises(PreconditionFailedError):
            store.put(f"c/{kind}", b"other", if_absent=True)
        assert store.get_bytes(f"c/{kind}") == b"mine"
        store.close()


@pytest.mark.parametrize("flavor", ["aws", "r2"])
def test_create_only_copy_repeated_after_a_lost_answer_succeeds(
    s3_server: S3Server, server_bucket: str, flavor: str
) -> None:
    direct = _store(s3_server.endpoint, server_bucket)
    direct.put("s/src", b"source bytes", content_type="text/plain")
    direct.put("s/taken", b"source bytes")  # the same bytes, there before the call
    with fault_proxy(s3_server.endpoint, _first("lost", "PUT"), conditional_copy=True) as (
        url,
        proxy,
    ):
        store = _store(url, server_bucket, flavor=flavor)
        info = store.copy("s/src", f"s/{flavor}", if_absent=True, content_type="text/plain")
        assert info.size == 12
        assert proxy.by_kind["lost"] == 1
        assert direct.get_bytes(f"s/{flavor}") == b"source bytes"
        # A 412 on the first attempt is a refusal, even when the bytes happen to match.
        with pytest.raises(PreconditionFailedError):
            store.copy("s/src", "s/taken", if_absent=True)
        store.close()
    direct.close()


@pytest.mark.parametrize("kind", ["reset", "lost", "timeout", "truncate"])
def test_delete_copy_and_list_survive_a_lost_or_cut_answer(
    s3_server: S3Server, server_bucket: str, kind: str
) -> None:
    direct = _store(s3_server.endpoint, server_bucket)
    for name in ("a", "b", "c"):
        direct.put(f"l/{name}", name.encode())
    for call in ("delete", "copy", "list"):
        with fault_proxy(s3_server.endpoint, _first(kind), stall=1.5) as (url, proxy):
            store = _store(url, server_bucket, timeout=1)
            if call == "delete":
                store.delete("l/c")
                assert not direct.exists("l/c")
            elif call == "copy":
                store.copy("l/a", "l/c")
                assert direct.get_bytes("l/c") == b"a"
            else:
                assert [i.key for i in store.list("l/")] == ["l/a", "l/b", "l/c"]
            assert proxy.by_kind[kind] == 1, call
            store.close()
    direct.close()


def _read_on_a_loop(store: S3Store, key: str) -> bytes:
    """The read as the S3 gateway streams it: opened in a thread, iterated on a loop."""
    stream = store.get(key)
    native = stream.native_async()
    assert native is not None

    async def gather() -> bytes:
        return b"".join([chunk async for chunk in native])

    return asyncio.run(gather())


def _read_in_a_thread(store: S3Store, key: str) -> bytes:
    return store.get_bytes(key)


@pytest.mark.parametrize(
    "read",
    [_read_in_a_thread, _read_on_a_loop],
    ids=["thread", "event-loop"],  # the loop: obstore's async client, its own resumption
)
def test_a_cut_download_resumes_and_a_replaced_object_fails_typed(
    s3_server: S3Server, server_bucket: str, read: Callable[[S3Store, str], bytes]
) -> None:
    direct = _store(s3_server.endpoint, server_bucket)
    old, new = os.urandom(3_000_000), os.urandom(3_000_000)
    direct.put("g/big", old)
    with fault_proxy(s3_server.endpoint, _first("truncate")) as (url, proxy):
        store = _store(url, server_bucket)
        assert read(store, "g/big") == old
        assert proxy.by_kind["truncate"] == 1
        store.close()

    def replace_after_the_cut(method: str, path: str, n: int) -> str | None:
        if n == 1:
            return "truncate"
        if n == 2:
            direct.put("g/big", new)
        return None

    with fault_proxy(s3_server.endpoint, replace_after_the_cut) as (url, _):
        store = _store(url, server_bucket)
        with pytest.raises(StoreUnavailableError, match="changed while it was being read"):
            read(store, "g/big")  # never old bytes followed by new ones
        store.close()
    direct.close()


def test_a_listing_cut_after_a_key_that_prefixes_others_resumes_without_a_gap(
    s3_server: S3Server, server_bucket: str
) -> None:
    """The first page ends at ``l/ab`` and the second is cut: the listing resumes after
    ``l/ab`` and still yields ``l/ab/2``. Resuming with ``l/ab`` as ``start-after`` would
    skip it on SeaweedFS (``test_start_after_a_key_that_prefixes_others`` pins that)."""
    direct = _store(s3_server.endpoint, server_bucket)
    keys = [f"l/a/{i:03d}" for i in range(999)] + ["l/ab", "l/ab/2", "l/abc"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: direct.put(key, b""), keys[:999]))
    # One after the other: a key and a "folder" of the same name written at the same moment
    # leave SeaweedFS's filer in a state whose listing depends on the race (seen once in CI:
    # `l/ab/2` missing); the subject here is the resumption, not that race.
    for key in keys[999:]:
        direct.put(key, b"")
    pages = 0

    def cut_the_second_page(method: str, path: str, n: int) -> str | None:
        nonlocal pages
        if method == "GET" and "list-type=2" in path:
            pages += 1
            return "truncate" if pages == 2 else None
        return None

    with fault_proxy(s3_server.endpoint, cut_the_second_page) as (url, proxy):
        store = _store(url, server_bucket)
        assert [i.key for i in store.list("l/")] == keys
        assert proxy.by_kind["truncate"] == 1
        store.close()
    direct.close()
