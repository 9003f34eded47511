"""The media-resources and tags HTTP API, end to end through the app on the embedded store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes
from tests.support.http_media import browser_upload, ingest


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageContext:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    return build_context(load_settings(), migrate=True)


@pytest.fixture
def client(context: StorageContext) -> Iterator[TestClient]:
    token = issue_token(context.jwt_secret, "backend")
    with TestClient(create_app(context=context)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_upload_ingest_read_and_serve(client: TestClient, context: StorageContext) -> None:
    data = image_bytes("png", 40, 80, (10, 20, 30))
    url = browser_upload(client, context, data)
    entity = uuid.uuid4()
    response = ingest(client, url, entity)
    assert response.status_code == 201, response.text
    body = response.json()
    resource = body["media_resource"]
    assert body["created"] is True
    assert resource["url"] == f"http://testserver/_storage/public/media/{resource['id']}/file.png"
    assert "storage_key" not in resource
    assert (resource["width"], resource["height"]) == (40, 80)
    assert resource["orientation"] == "portrait"
    assert resource["aspect_ratio"] == 0.5
    assert resource["dominant_color"] == "#0a141e"
    assert body["attachment"]["entity_id"] == str(entity)
    served = client.get(resource["url"])
    assert served.content == data
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    detail = client.get(f"/api/v1/media-resources/{resource['id']}").json()
    assert [a["slot"] for a in detail["attachments"]] == ["cover_image"]
    listed = client.get(
        "/api/v1/media-resources", params={"entity_type": "PRODUCT", "entity_id": str(entity)}
    ).json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == resource["id"]
    # Dedup through the API.
    again = ingest(client, browser_upload(client, context, data), uuid.uuid4()).json()
    assert again["created"] is False
    assert again["media_resource"]["id"] == resource["id"]


def test_detach_and_patch(client: TestClient, context: StorageContext) -> None:
    body = ingest(client, browser_upload(client, context, image_bytes(seed=3)), uuid.uuid4()).json()
    rid = body["media_resource"]["id"]
    patched = client.patch(
        f"/api/v1/media-resources/{rid}", json={"caption": "a red dress", "width": 1}
    )
    assert patched.status_code == 200
    assert patched.json()["caption"] == "a red dress"
    assert patched.json()["width"] == 64
    assert (
        client.delete(f"/api/v1/media-resources/attachments/{body['attachment']['id']}").status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/media-resources/attachments/{body['attachment']['id']}").status_code
        == 404
    )
    assert client.get(f"/api/v1/media-resources/{rid}").json()["attachments"] == []


def test_ingest_storage_key(client: TestClient, context: StorageContext) -> None:
    context.store.put(
        "compute/generations/t1/result_0.webp",
        image_bytes("webp", seed=5),
        content_type="image/webp",
    )
    response = client.post(
        "/api/v1/media-resources/ingest-storage-key",
        json={"storage_key": "compute/generations/t1/result_0.webp", "relocate": True},
    )
    assert response.status_code == 201, response.text
    assert response.json()["attachment"] is None
    assert not context.store.exists("compute/generations/t1/result_0.webp")
    half = client.post(
        "/api/v1/media-resources/ingest-storage-key",
        json={"storage_key": "compute/x/result_0.webp", "entity_type": "PRODUCT"},
    )
    assert half.status_code == 422


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"media": {}, "entity_type": "PRODUCT", "entity_id": str(uuid.uuid4()), "slot": "s"}, 422),
        (
            {
                "media": {"url": "x", "media_resource_id": str(uuid.uuid4())},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
            },
            422,
        ),
        (
            {
                "media": {"url": "https://evil.test/temp/a"},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
            },
            422,
        ),
        (
            {
                "media": {"url": "http://testserver/_storage/public/temp/none_1_a.png"},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
            },
            410,
        ),
        (
            {
                "media": {"media_resource_id": str(uuid.uuid4())},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
            },
            404,
        ),
        (
            {
                "media": {"media_resource_id": str(uuid.uuid4())},
                "entity_type": "product",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
            },
            422,
        ),
        (
            {
                "media": {"media_resource_id": str(uuid.uuid4())},
                "entity_type": "PRODUCT",
                "entity_id": "nope",
                "slot": "s",
            },
            422,
        ),
        (
            {
                "media": {"media_resource_id": str(uuid.uuid4())},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "s",
                "extra": 1,
            },
            422,
        ),
    ],
)
def test_bad_ingest_bodies(client: TestClient, payload: dict[str, object], status: int) -> None:
    response = client.post("/api/v1/media-resources/ingest", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_spoofed_upload_refused_with_415(client: TestClient, context: StorageContext) -> None:
    key = f"temp/{uuid.uuid4().hex}_1_x.png"
    context.store.put(key, b"<html><script>alert(1)</script></html>", content_type="image/png")
    response = ingest(client, context.urls.public_url(key), uuid.uuid4())
    assert response.status_code == 415
    assert client.get("/api/v1/media-resources").json()["total"] == 0


def test_unknown_ids_404(client: TestClient) -> None:
    missing = uuid.uuid4()
    assert client.get(f"/api/v1/media-resources/{missing}").status_code == 404
    assert client.patch(f"/api/v1/media-resources/{missing}", json={}).status_code == 404
    assert client.get(f"/api/v1/media-resources/{missing}/tags/").status_code == 404
    assert client.get("/api/v1/media-resources/not-a-uuid").status_code == 422


def test_auth_required(context: StorageContext) -> None:
    with TestClient(create_app(context=context)) as anonymous:
        routes = [
            ("GET", "/api/v1/media-resources"),
            ("POST", "/api/v1/media-resources/ingest"),
            ("POST", "/api/v1/media-resources/heal"),
            ("POST", "/api/v1/tags/"),
            ("DELETE", f"/api/v1/media-resources/attachments/{uuid.uuid4()}"),
        ]
        for method, path in routes:
            assert anonymous.request(method, path).status_code == 401
            bad = anonymous.request(method, path, headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401
            assert bad.json()["detail"]
        expired = issue_token(context.jwt_secret, "x", ttl_seconds=-5)
        assert (
            anonymous.get(
                "/api/v1/media-resources", headers={"Authorization": f"Bearer {expired}"}
            ).status_code
            == 401
        )


def test_tags(client: TestClient, context: StorageContext) -> None:
    rid = ingest(client, browser_upload(client, context, image_bytes(seed=9)), uuid.uuid4()).json()[
        "media_resource"
    ]["id"]
    red = client.post("/api/v1/tags/", json={"name": "red", "color": "#ff0000"}).json()
    sale = client.post("/api/v1/tags/", json={"name": "sale"}).json()
    assert red["owner_id"] == "backend"
    assert client.post("/api/v1/tags/", json={"name": "red"}).status_code == 409
    assert {t["name"] for t in client.get("/api/v1/tags/").json()} == {"red", "sale"}
    assert (
        client.put(f"/api/v1/tags/{sale['id']}", json={"description": "on sale"}).json()[
            "description"
        ]
        == "on sale"
    )
    path = f"/api/v1/media-resources/{rid}/tags/"
    assert client.post(path, json={"tag_ids": [red["id"]]}).json()["tags"][0]["name"] == "red"
    both = client.put(path, json={"tag_ids": [red["id"], sale["id"]]}).json()
    assert [t["name"] for t in both["tags"]] == ["red", "sale"]
    left = client.request("DELETE", path, json={"tag_ids": [red["id"]]}).json()
    assert [t["name"] for t in left["tags"]] == ["sale"]
    assert client.get(path).json() == left
    assert client.post(path, json={"tag_ids": [str(uuid.uuid4())]}).status_code == 404
    assert client.delete(f"/api/v1/tags/{sale['id']}").status_code == 204
    assert client.get(path).json()["tags"] == []


def test_heal_contract(client: TestClient, context: StorageContext) -> None:
    body = ingest(
        client, browser_upload(client, context, image_bytes(seed=11)), uuid.uuid4()
    ).json()
    rid = body["media_resource"]["id"]
    key = f"media/{rid}/file.png"
    context.store.delete(key)  # the object goes missing, and its source is long gone
    report = client.post("/api/v1/media-resources/heal", json={"dry_run": True}).json()
    assert report["dry_run"] is True
    assert report["checked"] == 1
    assert report["unfixable"][0]["id"] == rid
    assert client.post("/api/v1/media-resources/heal", json={"dry_run": "maybe"}).status_code == 422
    # No body at all ("dry_run by default", as `curl -X POST …/heal` sends it): the same dry
    # run over every resource, as the dead-letter retry takes no body; it was a 422.
    bare = client.post("/api/v1/media-resources/heal")
    assert bare.status_code == 200, bare.text
    assert bare.json() == report
