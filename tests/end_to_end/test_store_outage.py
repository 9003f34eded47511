"""The S3 endpoint goes down under a running service and under the CLI: one typed failure.

A dedicated moto server is stopped mid-test. HTTP answers 503 with a short ``detail`` and the
request id (no endpoint, no bucket, no client dump), the full cause goes to the server's log
under that request id; health says ``down`` (503) and the metrics say so; the installed
``sartiq-storage`` prints one line and exits 1.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.moto_server import free_port, moto_client, moto_server, moto_settings
from tests.support.serve_process import Output, get_once_up, serve_process

SECRET = "outage-secret-" + "o" * 40
CLI = Path(sys.executable).parent / "sartiq-storage"
KEY = "compute/generations/outage/result_0.png"


def _no_internals(text: str, endpoint: str, bucket: str) -> None:
    host_port = endpoint.removeprefix("http://")
    for leaked in (host_port, bucket, "Generic", "source:", "reqwest", "Traceback"):
        assert leaked not in text, f"{leaked!r} leaked into: {text}"


def _health_once_probed_again(base: str) -> httpx.Response:
    """Health as soon as its remembered probe (a few seconds) has expired and run again."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(f"{base}/api/v1/storage/health", timeout=30)
        if answer.json()["store"]["up"] is False or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_a_store_outage_is_one_short_503_a_down_health_and_one_cli_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"outage-{uuid.uuid4().hex[:12]}"
    png = tmp_path / "result.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"1" * 32)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as moto:
        endpoint = moto.enter_context(moto_server())
        moto_client(endpoint).create_bucket(Bucket=bucket)
        for name, value in moto_settings(endpoint, bucket).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
        monkeypatch.setenv("DATASETS_ACCESS_KEY_ID", "AKIAOUTAGE")
        monkeypatch.setenv("DATASETS_SECRET_ACCESS_KEY", "outage-datasets-secret")
        monkeypatch.setenv("DATASETS_ALLOW_CONTENT_BUCKET", "true")  # one bucket goes away
        monkeypatch.setenv("LOG_FORMAT", "json")
        monkeypatch.setenv("LOG_LEVEL", "INFO")
        with serve_process(tmp_path, port) as proc:
            output = Output(proc)
            up = get_once_up(f"{base}/api/v1/storage/health", attempts=150)
            assert (up.status_code, up.json()["status"]) == (200, "ok")
            assert up.json()["store"]["up"] is True

            lakefs = f"{base}/lakefs/api/v1"
            basic = ("AKIAOUTAGE", "outage-datasets-secret")
            repository = {"name": "outage", "storage_namespace": f"s3://{bucket}/datasets/o"}
            created = httpx.post(f"{lakefs}/repositories", json=repository, auth=basic)
            assert created.status_code == 201, created.text

            moto.close()  # the endpoint goes away under the running service

            auth = {"Authorization": f"Bearer {issue_token(SECRET, 'outage')}"}
            failing = [
                httpx.get(
                    f"{base}/api/v1/storage/images", params={"prefix": "compute/"}, headers=auth
                ),
                httpx.post(
                    f"{base}/api/v1/media-resources/ingest-storage-key",
                    headers=auth,
                    json={
                        "storage_key": KEY,
                        "entity_type": "PRODUCT",
                        "entity_id": str(uuid.uuid4()),
                        "slot": "image",
                    },
                    timeout=60,
                ),
            ]
            upload = httpx.post(
                f"{lakefs}/repositories/outage/branches/main/objects",
                params={"path": "a.txt"},
                content=b"bytes",
                auth=basic,
                timeout=60,
            )
            assert upload.status_code == 503, upload.text
            assert upload.json() == {
                "message": "object store unavailable: connection refused",
                "request_id": upload.headers["x-request-id"],
            }
            for answer in failing:
                assert answer.status_code == 503, (answer.request.url, answer.text)
                rid = answer.headers["x-request-id"]
                assert answer.json() == {
                    "detail": "object store unavailable: connection refused",
                    "request_id": rid,
                }
                assert answer.headers["cache-control"] == "no-store"
                _no_internals(answer.text, endpoint, bucket)
                # The full cause is in the server's log, under the same request id.
                logged = json.loads(output.wait_for(lambda line, rid=rid: rid in line))
                assert logged["status"] == 503
                assert logged["level"] == "ERROR"
                assert endpoint.removeprefix("http://") in logged["exc_info"]

            # The installed CLI, meanwhile.
            for args in (("ls", "compute/"), ("put", str(png), KEY)):
                result = subprocess.run(
                    [CLI, *args], cwd=tmp_path, capture_output=True, text=True, check=False
                )
                assert result.returncode == 1, (args, result.stdout, result.stderr)
                assert result.stderr.strip().splitlines() == [
                    "error: object store unavailable: connection refused"
                ], args
                _no_internals(result.stderr + result.stdout, endpoint, bucket)

            health = _health_once_probed_again(base)
            assert health.status_code == 503
            verdict = health.json()
            assert verdict["status"] == "down"
            assert verdict["reasons"] == ["object store unavailable: connection refused"]
            assert verdict["store"]["up"] is False
            _no_internals(health.text, endpoint, bucket)
            metrics = httpx.get(f"{base}/metrics", timeout=30).text
            assert "sartiq_storage_store_up 0.0" in metrics
            assert 'sartiq_storage_health_status{status="down"} 1.0' in metrics
            assert "sartiq_storage_database_up 1.0" in metrics


def test_a_misspelt_bucket_is_a_down_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every HEAD in a bucket that is not there answers 404, as for a missing key: health
    asks for the bucket too, so a misspelt bucket name is ``down``, not ``ok``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with moto_server() as endpoint:
        moto_client(endpoint).create_bucket(Bucket="the-real-bucket")
        for name, value in moto_settings(endpoint, "the-reel-bucket").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
        with serve_process(tmp_path, port):
            answer = get_once_up(f"{base}/api/v1/storage/health", attempts=150)
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["status"] == "down"
            assert body["store"]["up"] is False
            assert "bucket not found" in body["store"]["reason"]
            assert "the-reel-bucket" not in answer.text  # no bucket name in a public answer
