"""A dedup hit on a resource whose object is gone puts the object back from the upload.

A row can point at a missing object (the store lost it, someone removed it by hand: the
orphan scan reports it for heal). The same bytes uploaded again matched that resource, the
upload was deleted once recorded, and the caller got a 201 whose file is a 404: the last
copy of the bytes gone, heal with no source left to restore from.
"""

from __future__ import annotations

import json
from pathlib import Path

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

SECRET = "dedup-restore-" + "r" * 40


def _png() -> bytes:
    image = pyvips.Image.black(40, 30).new_from_image([200, 17, 9]).cast("uchar")
    return bytes(image.pngsave_buffer())


def test_a_dedup_hit_on_a_lost_object_restores_it_from_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _png()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {issue_token(SECRET, 'dedup')}"}
    with moto_server() as endpoint:
        s3 = moto_client(endpoint)
        bucket = make_bucket(endpoint)
        for name, value in moto_settings(endpoint, bucket).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
        with serve_process(tmp_path, port):
            get_once_up(f"{base}/api/v1/storage/health", attempts=200)

            def upload() -> str:
                return upload_over_http(base, auth, data, "a.png", "image/png")

            first = ingest_over_http(base, auth, upload())
            key = f"media/{first['id']}/file.png"
            s3.delete_object(Bucket=bucket, Key=key)  # the store loses the object

            second = ingest_over_http(base, auth, upload())
            assert second["id"] == first["id"]  # still one resource for one content

            stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert stored == data, "the hit left the resource's object missing"
            left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
            assert left == [key]  # the upload went, as on any hit

        scan = run_cli("orphans", "scan", "--json", cwd=tmp_path)
        assert scan.returncode == 0, scan.stderr
        assert json.loads(scan.stdout)["missing_objects"] == 0
