"""One process-wide cap on image decodes: once it is reached, 503 with ``Retry-After``.

A conversion is held inside its decode slot by a failpoint that waits on an Event, so the
cap is saturated deterministically (no timing involved).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sartiq_storage.adapters.vips import DECODES
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services import failpoints
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes
from tests.support.http_media import browser_upload, ingest

KEY = "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.png"


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageContext]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    monkeypatch.setenv("STORAGE_MAX_CONCURRENT_DECODES", "1")
    monkeypatch.setenv("STORAGE_DECODE_WAIT_SECONDS", "0")
    limit, wait = DECODES.limit, DECODES.wait
    yield build_context(load_settings(), migrate=True)
    DECODES.configure(limit, wait)  # the cap is process-wide: leave it as it was


def test_a_saturated_decoder_answers_503_with_retry_after(context: StorageContext) -> None:
    context.store.put(KEY, image_bytes("png", 64, 48), content_type="image/png")
    context.store.put(KEY + ".2.png", image_bytes("png", 64, 48, seed=2), content_type="image/png")
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(30), "the test never released the held conversion"

    token = issue_token(context.jwt_secret, "backend")
    with TestClient(create_app(context=context)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        upload = browser_upload(client, context, image_bytes("png", 40, 80, seed=7))
        held: list[httpx.Response] = []
        with failpoints.armed("derive.converting", hold):
            first = threading.Thread(
                target=lambda: held.append(client.get(f"/_storage/derived/webp/{KEY}"))
            )
            first.start()
            try:
                assert inside.wait(30)  # the only decode slot is taken, and stays taken
                busy = client.get(f"/_storage/derived/jpeg/{KEY}.2.png")
                refused = ingest(client, upload, uuid.uuid4())
            finally:
                release.set()
                first.join(30)
        for response in (busy, refused):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "2"
            assert "decoders are busy" in response.json()["detail"]
        assert held[0].status_code == 200  # the held conversion finished normally
        assert held[0].headers["content-type"] == "image/webp"
        # Nothing half-done: the refused ingest left its upload, and both work once retried.
        assert client.get(f"/_storage/derived/jpeg/{KEY}.2.png").status_code == 200
        assert ingest(client, upload, uuid.uuid4()).status_code == 201
    assert list(context.store.list("media/")) != []


def test_the_cap_is_a_setting_with_bounds() -> None:
    with pytest.raises(Exception, match="STORAGE_MAX_CONCURRENT_DECODES"):
        load_settings(STORAGE_MAX_CONCURRENT_DECODES=0)
    assert load_settings().STORAGE_MAX_CONCURRENT_DECODES == 2
