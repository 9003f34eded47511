"""A real store with injected faults on chosen calls, for failure-path tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from sartiq_storage.adapters.stores import DeleteFailure, ObjectStore
from sartiq_storage.core.errors import StoreUnavailableError


class FaultyStore:
    """Wraps an ObjectStore; ``fail_delete`` decides per key whether a delete fails."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.fail_delete: Callable[[str], bool] = lambda key: False
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, key: str) -> None:
        with self._lock:
            self.calls.append(("delete", key))
        if self.fail_delete(key):
            raise StoreUnavailableError(f"injected 503 SlowDown for {key}")
        self.inner.delete(key)

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        failures = []
        ok = []
        for key in keys:
            if self.fail_delete(key):
                failures.append(DeleteFailure(key, "InternalError: injected"))
            else:
                ok.append(key)
        failures.extend(self.inner.delete_many(ok))
        return failures
