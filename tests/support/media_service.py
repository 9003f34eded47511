"""Helpers for tests of the media service: the CDN its URLs use, a browser-style upload to
``temp/`` and an attachment target (the fixtures that build the service are in
``tests/services/conftest.py``)."""

from __future__ import annotations

import uuid

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.services.media.service import AttachTo, MediaInput

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
