"""Fixtures for the media service: a store, a database and the service over them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import MemoryStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import AttachTo, MediaInput, MediaResourceService

CDN = "https://cdn.test"


@pytest.fixture
def mstore() -> ObjectStore:
    return MemoryStore()


@pytest.fixture
def media(db: Database, mstore: ObjectStore) -> Iterator[MediaResourceService]:
    service = MediaResourceService(db, mstore, UrlResolver(CDN))
    yield service
    service.close()  # its pending outbox acknowledgements, while the database is still there


def upload(
    store: ObjectStore, data: bytes, name: str = "photo.png", ctype: str = "image/png"
) -> MediaInput:
    """What the browser does: PUT the bytes under temp/, then hand the file_url over."""
    key = f"temp/{uuid.uuid4().hex}_1706000000_{name}"
    store.put(key, data, content_type=ctype)
    return MediaInput(url=f"{CDN}/{key}")


def product(
    slot: str = "cover_image", position: int | None = None, entity_id: uuid.UUID | None = None
) -> AttachTo:
    return AttachTo("PRODUCT", entity_id or uuid.uuid4(), slot, position)
