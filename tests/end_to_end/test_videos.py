"""Videos end to end against ``sartiq-storage serve``: presign, PUT, ingest over HTTP; the
response's duration and dimensions, its poster URL followed to a decodable WebP; on moto, an
object uploaded in parts (ETag ``…-N``) gets its real MD5. Embedded default and moto."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.media import video_bytes
from sartiq_storage.testing.moto_server import (
    TEST_KEY_ID,
    TEST_SECRET,
    free_port,
    make_bucket,
    moto_client,
    moto_settings,
)
from tests.support.buckets import public_read
from tests.support.serve_process import get_once_up, serve_process
from tests.support.videos import image_size, multipart_put

SECRET = "video-e2e-secret-of-a-sensible-length-0123"
MiB = 1024 * 1024


@dataclass
class Serve:
    base: str
    auth: dict[str, str]
    endpoint: str | None = None
    bucket: str | None = None


@pytest.fixture(params=["embedded", "moto"])  # and "moto-aws", asked for by name
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Serve]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "STORAGE_SERVICE_URL": base,
        "AUTH_JWT_SECRET": SECRET,
    }
    endpoint = bucket = None
    if request.param.startswith("moto"):
        endpoint = str(request.getfixturevalue("moto_endpoint"))
        bucket = make_bucket(endpoint)
        public_read(endpoint, bucket, TEST_KEY_ID, TEST_SECRET)
        env.update(moto_settings(endpoint, bucket))
        if request.param == "moto-aws":  # moto answers copies as AWS does (an MD5 ETag)
            env["STORAGE_S3_FLAVOR"] = "aws"
    with serve_process(tmp_path, port, env=env):
        assert get_once_up(f"{base}/healthz", attempts=150).status_code == 200
        auth = {"Authorization": f"Bearer {issue_token(SECRET, 'webapp')}"}
        yield Serve(base, auth, endpoint, bucket)


def _ingest(api: httpx.Client, url: str) -> dict[str, object]:
    answer = api.post(
        "/api/v1/media-resources/ingest",
        json={
            "media": {"url": url},
            "entity_type": "PRODUCT",
            "entity_id": str(uuid.uuid4()),
            "slot": "video",
        },
    )
    assert answer.status_code == 201, answer.text
    resource = answer.json()["media_resource"]
    assert isinstance(resource, dict)
    return resource


def _poster(url: object) -> bytes:
    assert isinstance(url, str)
    poster = httpx.get(url, follow_redirects=True, timeout=60)
    assert poster.status_code == 200, poster.text
    assert poster.headers["content-type"] == "image/webp"
    return poster.content


def test_a_video_uploaded_and_ingested_over_http_has_its_metadata_and_poster(
    serve: Serve,
) -> None:
    data = video_bytes("libx264", width=160, height=96, frames=36, rate=12)
    with httpx.Client(base_url=serve.base, headers=serve.auth, timeout=60) as api:
        presigned = api.post(
            "/api/v1/uploads/presigned-url",
            json={"filename": "clip.mp4", "content_type": "video/mp4", "size": len(data)},
        )
        assert presigned.status_code == 200, presigned.text
        body = presigned.json()
        put = httpx.put(body["upload_url"], content=data, headers=body["upload_headers"])
        assert put.status_code == 200, put.text
        resource = _ingest(api, body["file_url"])
        assert resource["resource_type"] == "VIDEO"
        assert (resource["width"], resource["height"]) == (160, 96)
        assert resource["duration"] == pytest.approx(3.0, abs=0.1)
        assert (resource["codec"], resource["frame_rate"]) == ("h264", 12.0)
        assert resource["content_hash"] == hashlib.md5(data).hexdigest()
        assert image_size(_poster(resource["poster_url"])) == (160, 96)
        listed = api.get("/api/v1/media-resources").json()["items"]
        assert [item["poster_url"] for item in listed] == [resource["poster_url"]]
        # The poster is a derivative: another format is made on request, from the video.
        assert isinstance(resource["poster_url"], str)
        jpeg = httpx.get(
            resource["poster_url"].replace("type=webp", "type=jpeg"), follow_redirects=True
        )
        assert jpeg.headers["content-type"] == "image/jpeg"
        assert image_size(jpeg.content) == (160, 96)


@pytest.mark.parametrize("serve", ["moto"], indirect=True)
def test_a_video_uploaded_in_parts_gets_its_real_md5(serve: Serve) -> None:
    assert serve.endpoint is not None
    assert serve.bucket is not None
    data = video_bytes(
        "libvpx-vp9", width=96, height=64, frames=8, rate=8, noise=True, repeat_to=11 * MiB
    )
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.webm"
    etag = multipart_put(moto_client(serve.endpoint), serve.bucket, key, data)
    assert etag.endswith("-3")
    with httpx.Client(base_url=serve.base, headers=serve.auth, timeout=120) as api:
        resource = _ingest(api, f"{serve.endpoint}/{serve.bucket}/{key}")
    assert resource["content_hash"] == hashlib.md5(data).hexdigest()
    assert resource["extension"] == "webm"
    assert (resource["width"], resource["height"]) == (96, 64)
    assert image_size(_poster(resource["poster_url"])) == (96, 64)


@pytest.mark.parametrize("serve", ["moto", "moto-aws"], indirect=True)
def test_a_big_video_uploaded_in_parts_is_ingested_over_http(serve: Serve) -> None:
    """Over 16 MiB, so not read at once: hashed beside its copy, or, with
    ``STORAGE_S3_FLAVOR=aws``, probed by ranges and its MD5 taken from the copy's answer.
    Either way the real MD5, the metadata and the poster; the upload is gone from temp/."""
    assert serve.endpoint is not None
    assert serve.bucket is not None
    data = video_bytes(
        "libx264", width=128, height=72, frames=12, rate=12, noise=True, repeat_to=20 * MiB
    )
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    client = moto_client(serve.endpoint)
    assert "-" in multipart_put(client, serve.bucket, key, data)  # "…-N": no MD5 in it
    with httpx.Client(base_url=serve.base, headers=serve.auth, timeout=120) as api:
        resource = _ingest(api, f"{serve.endpoint}/{serve.bucket}/{key}")
    assert resource["content_hash"] == hashlib.md5(data).hexdigest()
    assert (resource["width"], resource["height"]) == (128, 72)
    assert resource["codec"] == "h264"
    assert image_size(_poster(resource["poster_url"])) == (128, 72)
    stored = client.get_object(Bucket=serve.bucket, Key=f"media/{resource['id']}/file.mp4")
    assert hashlib.md5(stored["Body"].read()).hexdigest() == resource["content_hash"]
    assert "Contents" not in client.list_objects_v2(Bucket=serve.bucket, Prefix="temp/")
