"""One live service for the package, and the engines the contract suite runs on.

* ``native``: the native engine, in-process (the one the service itself uses);
* ``lakefs-fake``: ``LakeFSEngine`` → lakefs_sdk → HTTP → our lakeFS-compatible API → native;
* ``lakefs-real``: ``LakeFSEngine`` against a real lakeFS, only when ``LAKEFS_ENDPOINT``,
  ``LAKEFS_ACCESS_KEY_ID`` and ``LAKEFS_SECRET_ACCESS_KEY`` are set (``LAKEFS_TEST_NAMESPACE``
  picks where its test repositories live, default ``local://sartiq-contract-tests``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import lakefs
import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient

from sartiq_storage.adapters.datasets.lakefs import LakeFSEngine
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.datasets.errors import NotFoundError
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.moto_server import free_port
from tests.support.lakefs import (
    KEY_ID,
    REAL,
    SECRET,
    Service,
    namespace_for,
    unique,
)
from tests.support.live_server import live_server


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("lakefs-api")
    port = free_port()
    settings = load_settings(
        STORAGE_BACKEND="local",
        ENVIRONMENT="development",
        STORAGE_DATA_DIR=Path(data),
        STORAGE_SERVICE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=f"sqlite:///{data / 'storage.db'}",
        AUTH_JWT_SECRET="lakefs-api-tests-jwt-secret-0123456789",
        DATASETS_ACCESS_KEY_ID=KEY_ID,
        DATASETS_SECRET_ACCESS_KEY=SECRET,
        LAKEFS_ENDPOINT=None,
    )
    context = build_context(settings, migrate=True)
    with live_server(create_app(context=context), port) as base:
        yield Service(base, context)
    context.close()


@pytest.fixture(params=["native", "lakefs-fake", "lakefs-real"])
def engine(request: pytest.FixtureRequest, service: Service) -> Iterator[DatasetStore]:
    if request.param == "native":
        yield service.context.datasets
    elif request.param == "lakefs-fake":
        fake = LakeFSEngine(service.lakefs, KEY_ID, SECRET)
        yield fake
        fake.close()
    else:
        if not all(REAL.values()):
            pytest.skip("set LAKEFS_ENDPOINT, LAKEFS_ACCESS_KEY_ID, LAKEFS_SECRET_ACCESS_KEY")
        real = LakeFSEngine(
            REAL["LAKEFS_ENDPOINT"], REAL["LAKEFS_ACCESS_KEY_ID"], REAL["LAKEFS_SECRET_ACCESS_KEY"]
        )
        yield real
        real.close()


@pytest.fixture
def repo(engine: DatasetStore) -> Iterator[str]:
    """A fresh repository (default branch ``main``), deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    engine.create_repository(name, namespace_for(engine, name))
    yield name
    with contextlib.suppress(NotFoundError):
        engine.delete_repository(name)


@pytest.fixture
def client(service: Service) -> lakefs.Client:
    """The high-level ``lakefs`` SDK, pointed at the service."""
    return lakefs.Client(host=service.lakefs, username=KEY_ID, password=SECRET)


@pytest.fixture
def sdk(service: Service) -> LakeFSClient:
    """The generated ``lakefs_sdk`` client, for what the high-level SDK does not wrap."""
    config = lakefs_sdk.Configuration(host=service.lakefs, username=KEY_ID, password=SECRET)
    return LakeFSClient(config)


@pytest.fixture
def sdk_repository(client: lakefs.Client) -> Iterator[lakefs.Repository]:
    """A fresh repository made through the high-level SDK, deleted afterwards."""
    name = unique("sdk")
    repository = lakefs.repository(name, client=client).create(
        storage_namespace=f"local://datasets/{name}", default_branch="main"
    )
    yield repository
    repository.delete()
