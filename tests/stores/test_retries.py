"""Throttling and 5xx answers are retried with backoff; what still fails is a typed error."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.stores import S3Store
from sartiq_storage.core.errors import StoreUnavailableError
from tests.conftest import TEST_KEY_ID, TEST_SECRET
from tests.support.fault_proxy import fault_proxy


def _store(endpoint: str, bucket: str, attempts: int = 5) -> S3Store:
    return S3Store(
        bucket=bucket,
        endpoint_url=endpoint,
        access_key_id=TEST_KEY_ID,
        secret_access_key=TEST_SECRET,
        region="us-east-1",
        max_attempts=attempts,
        read_timeout=5,
    )


@pytest.mark.parametrize("fault", ["503", "500"])
def test_every_operation_survives_transient_faults(
    s3_endpoint: str, s3_bucket: str, fault: str
) -> None:
    # Every other request fails: each operation needs at least one retry.
    with fault_proxy(s3_endpoint, lambda method, path, n: fault if n % 2 == 1 else None) as (
        url,
        proxy,
    ):
        store = _store(url, s3_bucket)
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


def test_persistent_failure_is_a_typed_error(s3_endpoint: str, s3_bucket: str) -> None:
    with fault_proxy(s3_endpoint, lambda method, path, n: "503") as (url, proxy):
        store = _store(url, s3_bucket, attempts=2)
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


def test_connection_resets_are_retried(s3_endpoint: str, s3_bucket: str) -> None:
    with fault_proxy(s3_endpoint, lambda method, path, n: "reset" if n % 3 == 1 else None) as (
        url,
        _,
    ):
        store = _store(url, s3_bucket)
        store.put("z/1", b"abc")
        assert store.get_bytes("z/1") == b"abc"
        store.close()
