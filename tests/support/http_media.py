"""The browser's side of an upload through the HTTP API: presign, PUT, then ingest."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import ingest_body


def browser_upload(client: TestClient, context: StorageContext, data: bytes) -> str:
    """Presign, PUT the bytes to the service as a browser would, return the file URL."""
    key = f"temp/{uuid.uuid4().hex}_1706000000_photo.png"
    request = context.store.presign_put(
        key, content_type="image/png", content_length=len(data), expires_in=300
    )
    response = client.put(request.url, content=data, headers=request.headers)
    assert response.status_code == 200, response.text
    return context.urls.public_url(key)


def ingest(
    client: TestClient,
    url: str,
    entity: uuid.UUID,
    slot: str = "cover_image",
    position: int | None = None,
):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/media-resources/ingest", json=ingest_body(url, entity, slot, position)
    )
