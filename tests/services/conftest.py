"""Fixtures for the media service: a store, a database and the service over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import MemoryStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from tests.support.media_service import CDN


@pytest.fixture
def mstore() -> ObjectStore:
    return MemoryStore()


@pytest.fixture
def media(db: Database, mstore: ObjectStore) -> Iterator[MediaResourceService]:
    service = MediaResourceService(db, mstore, UrlResolver(CDN))
    yield service
    service.close()  # its pending outbox acknowledgements, while the database is still there
