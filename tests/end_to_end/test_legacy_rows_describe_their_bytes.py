"""A legacy object registered in place is described by its own bytes, metadata and all.

The migration never writes a legacy key, yet it recorded the hash and size of the bytes
ingest *would* have stored (the metadata stripped): the row lied about its object, and a
fresh upload of the same photo, cleaned to exactly those bytes, matched it and was served
from the legacy key, metadata included, while its own clean upload was deleted.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
import pyvips

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.moto_server import (
    free_port,
    make_bucket,
    moto_client,
    moto_server,
    moto_settings,
)
from tests.support.cli import run_cli
from tests.support.http_media import ingest_over_http, upload_over_http
from tests.support.serve_process import get_once_up, serve_process

SECRET = "legacy-bytes-" + "l" * 40
MARKER = b"secret location 48.85N 2.35E"


def _photo_with_a_comment() -> bytes:
    plain = bytes(
        pyvips.Image.black(40, 30).new_from_image([120, 30, 9]).cast("uchar").jpegsave_buffer()
    )
    segment = b"\xff\xfe" + (len(MARKER) + 2).to_bytes(2, "big") + MARKER  # a JPEG COM
    return plain[:2] + segment + plain[2:]


def test_a_legacy_photo_with_metadata_keeps_its_own_hash_and_is_never_a_clean_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = _photo_with_a_comment()
    product = uuid.uuid4()
    legacy = f"images/products/{product}/product_{product}_SKU1_{uuid.uuid4()}_cover.jpg"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {issue_token(SECRET, 'legacy')}"}
    with moto_server() as endpoint:
        s3 = moto_client(endpoint)
        bucket = make_bucket(endpoint)
        s3.put_object(Bucket=bucket, Key=legacy, Body=photo, ContentType="image/jpeg")
        for name, value in moto_settings(endpoint, bucket).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)

        migrated = run_cli("legacy", "migrate", "--apply", "--json", cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        assert s3.get_object(Bucket=bucket, Key=legacy)["Body"].read() == photo  # never written

        with serve_process(tmp_path, port):
            get_once_up(f"{base}/api/v1/storage/health", attempts=200)
            attached = httpx.get(
                f"{base}/api/v1/media-resources",
                params={"entity_type": "PRODUCT", "entity_id": str(product)},
                headers=auth,
            )
            assert attached.status_code == 200, attached.text
            (row,) = attached.json()["items"]
            assert row["content_hash"] == hashlib.md5(photo).hexdigest()
            assert row["file_size"] == len(photo)

            # The same photo uploaded now: cleaned, stored apart, never the legacy bytes.
            url = upload_over_http(base, auth, photo, "p.jpg", "image/jpeg")
            resource = ingest_over_http(base, auth, url)
            key = f"media/{resource['id']}/file.jpg"
            served = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert MARKER not in served
            assert resource["content_hash"] == hashlib.md5(served).hexdigest()
