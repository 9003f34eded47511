"""A converted image through a running ``sartiq-storage serve`` (granian): made by the route
on the first request, then answered as a static file (``fast_derived.py``, the file sent by
granian's ``pathsend``) with the same bytes and headers, ranges and revalidation included,
and a 404 once its source is deleted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import get_once_up, serve_process

CLI = Path(sys.executable).parent / "sartiq-storage"
KEY = "media/6d0c1f2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f/file.png"


def _cli(cwd: Path, *args: str) -> None:
    done = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_made_derivative_is_served_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_SERVICE_URL", "")
    (tmp_path / "file.png").write_bytes(image_bytes("png", 300, 200, (200, 60, 20)))
    _cli(tmp_path, "put", "file.png", KEY, "--cache-control", IMMUTABLE)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_process(tmp_path, port):
        assert get_once_up(f"{base}/healthz").status_code == 200
        with httpx.Client(base_url=base, timeout=30) as client:
            location = client.get(f"/files/{KEY}?type=webp").headers["location"]
            derived = httpx.URL(location).path
            first = client.get(derived)  # made by the route
            assert first.status_code == 200
            assert first.content[8:12] == b"WEBP"
            for _ in range(3):  # answered from the kept headers, the file sent by granian
                again = client.get(derived)
                assert again.status_code == 200
                assert again.content == first.content
                for name in ("etag", "cache-control", "content-type", "last-modified"):
                    assert again.headers[name] == first.headers[name], name
                assert again.headers["content-length"] == str(len(first.content))
                assert again.headers["x-content-type-options"] == "nosniff"
            assert first.headers["cache-control"] == IMMUTABLE
            etag = first.headers["etag"]
            assert client.get(derived, headers={"If-None-Match": etag}).status_code == 304
            head = client.head(derived)
            assert head.status_code == 200
            assert head.headers["content-length"] == str(len(first.content))
            part = client.get(derived, headers={"Range": "bytes=0-11"})
            assert part.status_code == 206
            assert part.content == first.content[:12]
            _cli(tmp_path, "rm", KEY)
        gone = httpx.get(f"{base}{derived}", timeout=30)
        assert gone.status_code == 404
        assert gone.json()["detail"]
