"""``/files/{video}?type=…`` is the video's poster frame: the service's own derived route in
every environment (an image CDN does not decode video), made on request when missing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import video_bytes
from tests.support.asgi import make_app, make_context
from tests.support.videos import image_size

VIDEO = f"media/{uuid.UUID(int=7)}/file.mp4"
IMAGE = f"media/{uuid.UUID(int=8)}/file.png"
BROKEN = f"media/{uuid.UUID(int=9)}/file.mp4"


def _client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> TestClient:
    return TestClient(make_app(make_context(monkeypatch, tmp_path, **env)))


def test_a_video_type_goes_to_the_service_even_behind_cloudflare(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "ENVIRONMENT": "production",
        "R2_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com",
        "R2_ACCESS_KEY_ID": "id",
        "R2_SECRET_ACCESS_KEY": "secret",
        "STORAGE_SERVICE_URL": "https://storage.sartiq.test",
        "CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED": "true",
    }
    with _client(monkeypatch, tmp_path, **env) as client:
        video = client.get(f"/files/{VIDEO}?type=webp", follow_redirects=False)
        assert video.headers["location"] == (
            f"https://storage.sartiq.test/_storage/derived/webp/{VIDEO}"
        )
        image = client.get(f"/files/{IMAGE}?type=webp", follow_redirects=False)
        assert "/cdn-cgi/image/format=webp/" in image.headers["location"]


def test_a_missing_poster_is_made_from_the_video(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with _client(monkeypatch, tmp_path, STORAGE_SERVICE_URL="http://testserver") as client:
        context: StorageContext = client.app.state.context  # type: ignore[attr-defined]
        data = video_bytes("libvpx-vp9", width=80, height=60, frames=6)
        context.store.put(VIDEO, data, content_type="video/mp4")
        assert list(context.store.list("derived/")) == []  # never ingested: no poster yet
        for fmt, content_type in (("webp", "image/webp"), ("png", "image/png")):
            answer = client.get(f"/files/{VIDEO}?type={fmt}")
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"] == content_type
            assert image_size(answer.content) == (80, 60)
        assert len(list(context.store.list("derived/"))) == 2
        context.store.put(BROKEN, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
        broken = client.get(f"/files/{BROKEN}?type=webp")
        assert broken.status_code == 415
        assert "poster" in broken.json()["detail"]
