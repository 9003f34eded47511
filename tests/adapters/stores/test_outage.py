"""An S3 endpoint that is down: every call is one short StoreUnavailableError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sartiq_storage.core.errors import StoreUnavailableError
from sartiq_storage.testing.moto_server import free_port, moto_store

KEY = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"


def test_a_down_endpoint_is_unavailable_whatever_its_urls_contain() -> None:
    # "416" in the bucket (or port) once read as a refused byte range: a ValueError.
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = moto_store(endpoint, "bucket-416-416", max_attempts=1)
    calls: list[Callable[[], Any]] = [
        lambda: store.get(KEY),
        lambda: store.get(KEY, start=2),
        lambda: store.head(KEY),
        lambda: list(store.list("media/")),
        lambda: store.put(KEY, b"x", if_absent=True),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailableError) as caught:
            call()
        assert str(caught.value) == "object store unavailable: connection refused"
        assert endpoint in caught.value.cause  # the log gets everything
    (failure,) = store.delete_many([KEY])
    assert failure.error == "batch delete failed: could not connect"
    store.close()
