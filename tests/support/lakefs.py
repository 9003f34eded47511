"""Helpers for the lakeFS-compatible API's tests: the keys of the service under test, the real
lakeFS a run may name (``LAKEFS_*``, read at import since the autouse fixture of
``tests/conftest.py`` clears them for every test) and repository names."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import httpx

from sartiq_storage.adapters.datasets.lakefs import LakeFSEngine
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.datasets import NativeDatasetEngine

KEY_ID = "AKIATESTSARTIQ0001"
SECRET = "test-secret-of-the-datasets-api-0123456789"
# Read at import: the autouse fixture of tests/conftest.py clears LAKEFS_* for every test.
REAL = {name: os.environ.get(name, "") for name in ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID")}
REAL["LAKEFS_SECRET_ACCESS_KEY"] = os.environ.get("LAKEFS_SECRET_ACCESS_KEY", "")
REAL_NAMESPACE = os.environ.get("LAKEFS_TEST_NAMESPACE", "local://sartiq-contract-tests")


@dataclass(frozen=True)
class Service:
    base: str
    context: StorageContext

    @property
    def lakefs(self) -> str:
        """What lakeFS clients are given as their host."""
        return f"{self.base}/lakefs/api/v1"

    @property
    def datasets_folder(self) -> ObjectStore:
        """The store behind ``local://`` (namespaces and import sources), not the content's."""
        engine = self.context.datasets
        assert isinstance(engine, NativeDatasetEngine)
        return engine.stores.datasets


def is_real(engine: DatasetStore) -> bool:
    return (
        isinstance(engine, LakeFSEngine)
        and bool(REAL["LAKEFS_ENDPOINT"])
        and (REAL["LAKEFS_ENDPOINT"].rstrip("/") in engine.sdk._api.configuration.host)
    )


def namespace_for(engine: DatasetStore, name: str) -> str:
    return f"{REAL_NAMESPACE}/{name}" if is_real(engine) else f"local://datasets/{name}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for_import(
    http: httpx.Client, url: str, import_id: str, *, timeout: float = 60.0
) -> dict[str, Any]:
    """Polls ``GET …/import?id=`` until the import completed or ended with an error."""
    deadline = time.monotonic() + timeout
    while True:
        status = cast(dict[str, Any], http.get(url, params={"id": import_id}).json())
        if status.get("completed") or status.get("error") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)
