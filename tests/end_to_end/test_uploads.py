"""End to end with real HTTP: presign, PUT to upload_url, ingest, GET /files, follow it.

Once against the embedded backend (the service is the upload target) and once against each
selected S3 server, moto and SeaweedFS (the bucket is), each through a real server on a
loopback port.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, free_port, make_bucket
from tests.support.buckets import public_read
from tests.support.live_server import live_server
from tests.support.s3_servers import S3Server, selected_servers

SECRET = "e2e-secret-of-a-sensible-length-0123456789"


@pytest.fixture(params=["embedded", *selected_servers()])
def service(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    if request.param != "embedded":
        server = S3Server(request.param, request.getfixturevalue(f"{request.param}_endpoint"))
        bucket = make_bucket(server.endpoint)
        public_read(
            server.endpoint, bucket, TEST_KEY_ID, TEST_SECRET
        )  # `mc anonymous set download`
        for name, value in server.settings(bucket).items():
            monkeypatch.setenv(name, value)
    context = build_context(load_settings(), migrate=True)
    with live_server(create_app(context=context), port) as base:
        yield base, {"Authorization": f"Bearer {issue_token(SECRET, 'webapp')}"}
    context.close()


def test_presign_put_ingest_and_follow_files(service: tuple[str, dict[str, str]]) -> None:
    base, auth = service
    data = image_bytes("jpg", 120, 90, (30, 120, 200))
    with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
        presigned = api.post(
            "/api/v1/uploads/presigned-url",
            json={"filename": "My Photo (1).JPG", "content_type": "image/jpeg", "size": len(data)},
        )
        assert presigned.status_code == 200, presigned.text
        body = presigned.json()
        assert body["upload_method"] == "PUT"
        assert body["max_file_size"] == 52428800
        assert 900 <= body["expires_in_seconds"] <= 3600
        assert "/temp/" in body["file_url"]
        assert body["file_url"].endswith("_My-Photo-1.jpg")
        put = httpx.put(body["upload_url"], content=data, headers=body["upload_headers"])
        assert put.status_code == 200, put.text
        assert put.headers.get("etag")
        again = httpx.put(body["upload_url"], content=data, headers=body["upload_headers"])
        assert again.status_code in (403, 412)  # one URL, one object
        ingested = api.post(
            "/api/v1/media-resources/ingest",
            json={
                "media": {"url": body["file_url"]},
                "entity_type": "PRODUCT",
                "entity_id": str(uuid.uuid4()),
                "slot": "cover_image",
            },
        )
        assert ingested.status_code == 201, ingested.text
        resource = ingested.json()["media_resource"]
        key = f"media/{resource['id']}/file.jpg"
        redirect = httpx.get(f"{base}/files/{key}")
        assert redirect.status_code == 302
        assert redirect.headers["location"] == resource["url"]
        followed = httpx.get(f"{base}/files/{key}", follow_redirects=True)
        assert followed.status_code == 200
        assert followed.content == data
        converted = httpx.get(f"{base}/files/{key}?type=webp", follow_redirects=True)
        assert converted.status_code == 200
        assert converted.content[8:12] == b"WEBP"
        assert converted.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert converted.headers["etag"]


def _presigned_put(api: httpx.Client, data: bytes, name: str, content_type: str) -> str:
    presigned = api.post(
        "/api/v1/uploads/presigned-url",
        json={"filename": name, "content_type": content_type, "size": len(data)},
    ).json()
    put = httpx.put(presigned["upload_url"], content=data, headers=presigned["upload_headers"])
    assert put.status_code == 200, put.text
    return str(presigned["file_url"])


def test_ingest_batch_answers_item_by_item(service: tuple[str, dict[str, str]]) -> None:
    """A console drop of several files: one call, each item answered as ``/ingest`` would
    answer it alone, a refused item costing the others nothing; the retry is idempotent."""
    base, auth = service
    red, blue = image_bytes("png", 30, 20, (200, 0, 0)), image_bytes("jpg", 20, 30, (0, 0, 200))
    entity = str(uuid.uuid4())
    with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
        urls = [
            _presigned_put(api, red, "red.png", "image/png"),
            _presigned_put(api, blue, "blue.jpg", "image/jpeg"),
            _presigned_put(api, red, "red again.png", "image/png"),
            _presigned_put(api, b"not an image at all, just text", "fake.png", "image/png"),
        ]

        def items(slots: list[str]) -> list[dict[str, object]]:
            return [
                {"media": {"url": url}, "entity_type": "LOOK", "entity_id": entity, "slot": slot}
                for url, slot in zip(urls, slots, strict=True)
            ]

        answer = api.post(
            "/api/v1/media-resources/ingest-batch",
            json={"items": items(["front", "back", "detail", "broken"])},
        )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["status"] for r in results] == [201, 201, 201, 415]
        assert results[3]["detail"]
        assert results[3]["media_resource"] is None
        assert results[0]["created"] is True
        assert results[2]["created"] is False
        assert results[2]["media_resource"]["id"] == results[0]["media_resource"]["id"]
        assert [r["attachment"]["slot"] for r in results[:3]] == ["front", "back", "detail"]
        for result in results[:2]:
            served = httpx.get(result["media_resource"]["url"])
            assert served.status_code == 200
        assert httpx.get(results[0]["media_resource"]["url"]).content == red
        listed = api.get(
            "/api/v1/media-resources", params={"entity_type": "LOOK", "entity_id": entity}
        ).json()
        assert listed["total"] == 2  # the refused upload became no resource

        # The same three items again: the sources are gone (deleted after commit), but each
        # re-ingest of a recorded upload answers the resource it already made.
        again = api.post(
            "/api/v1/media-resources/ingest-batch",
            json={"items": items(["front", "back", "detail", "broken"])[:3]},
        )
        assert again.status_code == 200, again.text
        ids = [r["media_resource"]["id"] for r in again.json()["results"]]
        assert ids == [r["media_resource"]["id"] for r in results[:3]]


@pytest.mark.parametrize("count", [0, 101])
def test_ingest_batch_refuses_an_empty_or_oversized_batch(
    service: tuple[str, dict[str, str]], count: int
) -> None:
    base, auth = service
    item = {
        "media": {"url": f"{base}/temp/x.png"},
        "entity_type": "LOOK",
        "entity_id": str(uuid.uuid4()),
        "slot": "front",
    }
    answer = httpx.post(
        f"{base}/api/v1/media-resources/ingest-batch",
        json={"items": [item] * count},
        headers=auth,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"]
