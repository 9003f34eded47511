"""Helpers for tests of the media service: the CDN its URLs use, a browser-style upload to
``temp/`` and an attachment target (the fixtures that build the service are in
``tests/services/conftest.py``)."""

from __future__ import annotations

import uuid

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.media.service import AttachTo, MediaInput
from sartiq_storage.testing.media import image_bytes

CDN = "https://cdn.test"


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


def ingest_sample(context: StorageContext, seed: int) -> None:
    """One small PNG (distinct per ``seed``) uploaded to ``temp/`` and ingested for a product."""
    key = f"temp/{uuid.uuid4().hex}_1_a.png"
    context.store.put(key, image_bytes(seed=seed), content_type="image/png")
    context.media.ingest(
        MediaInput(url=context.urls.public_url(key)), AttachTo("PRODUCT", uuid.uuid4(), "c")
    )
