"""The browser's side of an upload through the HTTP API: presign, PUT, then ingest."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
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


def upload_over_http(
    base: str, auth: dict[str, str], data: bytes, filename: str, content_type: str
) -> str:
    """A browser's upload to a running ``serve`` at ``base``: presign, PUT the bytes to the
    URL it answers (with the headers it binds); the file URL to ingest."""
    body = {"filename": filename, "content_type": content_type, "size": len(data)}
    presigned = httpx.post(f"{base}/api/v1/uploads/presigned-url", json=body, headers=auth)
    assert presigned.status_code in (200, 201), presigned.text
    answer = presigned.json()
    headers = {"Content-Type": content_type, **answer.get("headers", {})}
    put = httpx.put(answer["upload_url"], content=data, headers=headers)
    assert put.status_code == 200, put.text
    return str(answer["file_url"])


def ingest_over_http(
    base: str, auth: dict[str, str], url: str, slot: str = "cover_image"
) -> dict[str, Any]:
    """``POST /api/v1/media-resources/ingest`` of ``url`` to a new product's ``slot`` on a
    running ``serve``; the 201's media resource."""
    answer = httpx.post(
        f"{base}/api/v1/media-resources/ingest",
        json=ingest_body(url, uuid.uuid4(), slot),
        headers=auth,
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    resource: dict[str, Any] = answer.json()["media_resource"]
    return resource
