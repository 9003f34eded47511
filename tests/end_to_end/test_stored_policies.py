"""What the operator commands store, read back from outside: the Cache-Control of every zone
(`docs/delivery.md`) on objects ``sartiq-storage put`` writes, and legacy layouts that no
command writes, ``heal --apply`` included (`docs/operations.md`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import free_port, make_bucket, moto_client, moto_settings
from tests.support.cli import sartiq
from tests.support.serve_process import get_once_up, serve_process

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize("threshold", ["67108864", "1"], ids=["single", "in-parts"])
def test_put_stores_the_cache_control_of_the_keys_zone(
    moto_endpoint: str, tmp_path: Path, threshold: str
) -> None:
    bucket = make_bucket(moto_endpoint)
    env = {**moto_settings(moto_endpoint, bucket), "AUTH_JWT_SECRET": "s" * 40}
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes(seed=3))
    expected = {
        f"media/{uuid.uuid4()}/file.png": IMMUTABLE,
        "compute/generations/task789/result_0.webp": IMMUTABLE,
        "temp/abc123_1706000000_photo.png": "no-store",
    }
    for key in expected:
        put = sartiq("put", str(photo), key, "--threshold", threshold, env=env)
        assert put.returncode == 0, put.stderr
    chosen = "public, max-age=60"
    put = sartiq("put", str(photo), "media/x/own.png", "--cache-control", chosen, env=env)
    assert put.returncode == 0, put.stderr
    expected["media/x/own.png"] = chosen

    client = moto_client(moto_endpoint)
    stored = {
        key: client.head_object(Bucket=bucket, Key=key).get("CacheControl") for key in expected
    }
    assert stored == expected


@pytest.fixture
def context() -> Iterator[StorageContext]:
    """The embedded default under the test's working directory (where the CLI runs too)."""
    context = build_context(load_settings(), migrate=True)
    yield context
    context.close()


def test_heal_never_writes_back_a_missing_legacy_object(context: StorageContext) -> None:
    product = uuid.uuid4()
    style = uuid.uuid4()
    first = f"images/products/{product}/product_{product}_SKU001_d4e5f6_cover.png"
    twin = f"images/styles/{style}/style_{style}_a1b2c3_cover.png"
    data = image_bytes(seed=11)
    for key in (first, twin):  # pre-existing legacy data, the same bytes twice
        context.store.put(key, data, content_type="image/png")
    migrated = sartiq("legacy", "migrate", "--apply", "--json")
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["registered"] == 1  # the twin deduplicated onto it
    context.store.delete(first)  # lost outside the service

    healed = sartiq("heal", "--apply", "--json")

    assert healed.returncode == 0, healed.stderr
    report = json.loads(healed.stdout)
    assert report["fixed"] == []
    [problem] = [item["problem"] for item in report["unfixable"]]
    assert f"object {first} is missing" in problem
    assert "legacy keys are never written" in problem
    assert twin in problem  # where the operator finds the same bytes
    assert not context.store.exists(first)
    assert [info.key for info in context.store.list("images/")] == [twin]


def test_compute_paths_each_name_their_own_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every path gets ``compute/`` (docs/delivery.md), one starting with ``compute/`` too:
    two paths never share an object, and every listed path reads back what was written."""
    secret = "c" * 40
    monkeypatch.setenv("AUTH_JWT_SECRET", secret)
    auth = {"Authorization": f"Bearer {issue_token(secret, 'compute-server')}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1/storage/images"
    written = {
        "compute/x.webp": image_bytes("webp", seed=21),
        "x.webp": image_bytes("webp", seed=22),
    }
    with serve_process(tmp_path, port):
        assert get_once_up(f"http://127.0.0.1:{port}/healthz").status_code == 200
        for path, data in written.items():
            saved = httpx.post(f"{base}/{path}", files={"file": data}, headers=auth)
            assert saved.status_code == 201, saved.text
            assert saved.json()["path"] == path
        listed = httpx.get(base, headers=auth).json()["images"]
        assert sorted(image["path"] for image in listed) == sorted(written)
        for path, data in written.items():
            read = httpx.get(f"{base}/{path}", headers=auth)
            assert (read.status_code, read.content) == (200, data), path
            assert httpx.get(saved_url(listed, path)).content == data, path
        only = httpx.get(base, params={"prefix": "compute/"}, headers=auth).json()["images"]
        assert [image["path"] for image in only] == ["compute/x.webp"]


def saved_url(listed: list[dict[str, str]], path: str) -> str:
    return next(image["url"] for image in listed if image["path"] == path)
