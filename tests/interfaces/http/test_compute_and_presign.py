"""The compute server's storage API, and presign validation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.policies import cache_control_for, presign_expiry
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import moto_settings

SECRET = "compute-tests-secret-0123456789abcdef"


def _make(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str
) -> tuple[TestClient, StorageContext]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    context = build_context(load_settings(), migrate=True)
    client = TestClient(create_app(context=context))
    return client, context


@pytest.fixture
def disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[TestClient, StorageContext]]:
    client, context = _make(monkeypatch, tmp_path)
    with client:
        yield client, context


AUTH = {"Authorization": f"Bearer {issue_token(SECRET, 'compute')}"}


def test_disk_backend_round_trip(disk: tuple[TestClient, StorageContext]) -> None:
    client, context = disk
    data = image_bytes("webp", seed=4)
    posted = client.post(
        "/api/v1/storage/images/generations/task789/result_0.webp",
        files={"file": ("result_0.webp", data, "image/webp")},
        headers=AUTH,
    )
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["path"] == "generations/task789/result_0.webp"
    # The URL is public (the embedded store's CDN stand-in); the API itself takes a token.
    assert body["url"] == (
        "http://testserver/_storage/public/compute/generations/task789/result_0.webp"
    )
    info = context.store.head("compute/generations/task789/result_0.webp")
    assert info.cache_control == "public, max-age=31536000, immutable"
    assert info.content_type == "image/webp"
    assert client.get(body["url"]).content == data
    api = "/api/v1/storage/images/generations/task789/result_0.webp"
    assert client.get(api, headers=AUTH).content == data
    assert client.head(api, headers=AUTH).status_code == 200
    assert (
        client.head("/api/v1/storage/images/generations/none.webp", headers=AUTH).status_code == 404
    )
    listed = client.get(
        "/api/v1/storage/images", params={"prefix": "generations/", "limit": 100}, headers=AUTH
    ).json()
    assert [i["path"] for i in listed["images"]] == ["generations/task789/result_0.webp"]
    assert listed["images"][0]["url"] == body["url"]
    assert client.delete(api, headers=AUTH).status_code == 204
    assert client.head(api, headers=AUTH).status_code == 404


def test_library_helper_writes_the_platform_layout(disk: tuple[TestClient, StorageContext]) -> None:
    _, context = disk
    stored = context.compute.save_result("generation", "task789", 0, image_bytes("webp", seed=5))
    assert stored.key == "compute/generations/task789/result_0.webp"
    assert context.compute.backend_name == "DiskImageStorage"


@pytest.mark.parametrize("path", ["/etc/passwd", "a/../../b", "..", "a//b", "%2e%2e/x"])
def test_traversal_refused(disk: tuple[TestClient, StorageContext], path: str) -> None:
    client, _ = disk
    response = client.post(
        f"/api/v1/storage/images/{path}", files={"file": ("x", b"x", "image/png")}, headers=AUTH
    )
    assert response.status_code in (400, 404), response.text
    assert list(disk[1].store.list("")) == []


def test_reads_and_writes_need_a_token(disk: tuple[TestClient, StorageContext]) -> None:
    client, _ = disk
    assert (
        client.post(
            "/api/v1/storage/images/a.webp", files={"file": ("a", b"1", "image/webp")}
        ).status_code
        == 401
    )
    assert client.delete("/api/v1/storage/images/a.webp").status_code == 401
    # The platform's compute storage API is under HTTPBearer: reads too.
    for method, path in [
        ("GET", "/api/v1/storage/images"),
        ("GET", "/api/v1/storage/images/a.webp"),
        ("HEAD", "/api/v1/storage/images/a.webp"),
    ]:
        refused = client.request(method, path)
        assert refused.status_code == 401, (method, path)
        assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/storage/images", headers=AUTH).status_code == 200


def test_non_images_refused(disk: tuple[TestClient, StorageContext]) -> None:
    client, context = disk
    response = client.post(
        "/api/v1/storage/images/x/evil.webp",
        files={"file": ("e", b"<html>x</html>", "image/webp")},
        headers=AUTH,
    )
    assert response.status_code == 415
    assert list(context.store.list("compute/")) == []


def test_r2_backend_prefixes_and_redirects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    client, context = _make(
        monkeypatch,
        tmp_path,
        **moto_settings(s3_endpoint, s3_bucket),
        CDN_URL="https://media.example.test",
    )
    with client:
        assert context.compute.backend_name == "R2ImageStorage"
        posted = client.post(
            "/api/v1/storage/images/generations/t1/result_0.webp",
            files={"file": ("r", image_bytes("webp", seed=6), "image/webp")},
            headers=AUTH,
        ).json()
        assert posted["url"] == "https://media.example.test/compute/generations/t1/result_0.webp"
        assert context.store.exists("compute/generations/t1/result_0.webp")
        redirect = client.get(
            "/api/v1/storage/images/generations/t1/result_0.webp",
            headers=AUTH,
            follow_redirects=False,
        )
        assert redirect.status_code == 302
        assert redirect.headers["location"] == posted["url"]


# -- presign ------------------------------------------------------------------------------


def test_presign_validation_and_intents(disk: tuple[TestClient, StorageContext]) -> None:
    client, context = disk
    url = "/api/v1/uploads/presigned-url"
    assert (
        client.post(
            url, json={"filename": "a.svg", "content_type": "image/svg+xml"}, headers=AUTH
        ).status_code
        == 422
    )
    assert (
        client.post(
            url, json={"filename": "a.html", "content_type": "text/html"}, headers=AUTH
        ).status_code
        == 422
    )
    big = client.post(
        url, json={"filename": "a.png", "content_type": "image/png", "size": 52428801}, headers=AUTH
    )
    assert big.status_code == 413
    assert (
        client.post(
            url, json={"filename": "a.png", "content_type": "image/png", "size": 0}, headers=AUTH
        ).status_code
        == 422
    )
    assert (
        client.post(url, json={"filename": "a.png", "content_type": "image/png"}).status_code == 401
    )
    ok = client.post(
        url, json={"filename": "../../a.png", "content_type": "image/png"}, headers=AUTH
    ).json()
    assert ok["expires_in_seconds"] == 900
    assert "/temp/" in ok["file_url"]
    assert ".." not in ok["file_url"]
    with context.db.session() as session:
        intents = list(session.scalars(select(UploadIntent)))
    assert len(intents) == 1
    assert intents[0].requester == "compute"
    assert intents[0].declared_size is None
    assert intents[0].expires_at - intents[0].created_at == timedelta(seconds=900)
    assert intents[0].claimed_at is None


def test_strict_mode_requires_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client, _ = _make(monkeypatch, tmp_path, STORAGE_REQUIRE_UPLOAD_SIZE="true")
    with client:
        response = client.post(
            "/api/v1/uploads/presigned-url",
            json={"filename": "a.png", "content_type": "image/png"},
            headers=AUTH,
        )
        assert response.status_code == 422
        assert "size" in response.json()["detail"]


def test_ingest_claims_the_intent(disk: tuple[TestClient, StorageContext]) -> None:
    client, context = disk
    data = image_bytes(seed=12)
    up = client.post(
        "/api/v1/uploads/presigned-url",
        json={"filename": "a.png", "content_type": "image/png", "size": len(data)},
        headers=AUTH,
    ).json()
    assert (
        client.put(up["upload_url"], content=data, headers=up["upload_headers"]).status_code == 200
    )
    made = client.post(
        "/api/v1/media-resources/ingest",
        json={
            "media": {"url": up["file_url"]},
            "entity_type": "PRODUCT",
            "entity_id": str(uuid.uuid4()),
            "slot": "c",
        },
        headers=AUTH,
    ).json()
    with context.db.session() as session:
        intent = session.scalar(select(UploadIntent))
    assert intent is not None
    assert intent.claimed_at is not None
    assert str(intent.media_resource_id) == made["media_resource"]["id"]


def test_policies() -> None:
    assert presign_expiry(None) == 900
    assert presign_expiry(1) == 901
    assert presign_expiry(52_428_800) == 900 + 200
    assert presign_expiry(10**12) == 3600
    assert cache_control_for("media/x/file.png") == "public, max-age=31536000, immutable"
    assert cache_control_for("images/products/p/x.png") == "public, max-age=31536000, immutable"
    assert (
        cache_control_for("compute/generations/t/result_0.webp")
        == "public, max-age=31536000, immutable"
    )
    assert cache_control_for("temp/a_1_b.png") == "no-store"
