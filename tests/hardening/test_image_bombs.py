"""Decompression bombs are refused from their header: a clear 415, little time, no memory.

Each fixture (``bombs.py``) is ingested in a fresh process, which reports the growth of its
peak memory; the bar is 256 MB. Time is not asserted (shared machines are noisy): the
refusal is proven to need only the header instead, since the first 4 KB of each bomb are
refused the same way, and the measured times are printed and kept in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.adapters.media_probe import DecompressionBombError, probe_image_header
from sartiq_storage.adapters.vips import pyvips
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from tests.hardening import bombs

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["inline", "deferred"])
def test_every_bomb_is_refused_within_the_memory_bar(mode: str) -> None:
    argv = [sys.executable, "-m", "tests.hardening.bombs"]
    if mode == "deferred":
        argv.append("--deferred")
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))  # the figures docs/reliability.md quotes
    assert set(report["bombs"]) == set(bombs.BOMBS)
    for name, outcome in report["bombs"].items():
        assert outcome["refusal"] != "ACCEPTED", name
    assert report["peak_growth_mb"] < 256


@pytest.mark.parametrize("name", [n for n in bombs.BOMBS if not n.startswith("webp")])
def test_the_header_alone_is_enough_to_refuse(name: str) -> None:
    head = bombs.BOMBS[name]()[:4096]
    with pytest.raises(DecompressionBombError, match="pixel limit"):
        probe_image_header(head)


def test_untrusted_loaders_are_blocked_at_import() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/></svg>'
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(svg, "")
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(b"1 2 3\n4 5 6\n", "")  # the matrix/CSV loaders
    assert pyvips.Image.new_from_buffer(bombs.image_bytes("png", 4, 4, (1, 2, 3)), "").width == 4


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    context: StorageContext = build_context(load_settings(), migrate=True)
    with TestClient(create_app(context=context)) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(context.jwt_secret, 'backend')}"
        client.app_state = context  # type: ignore[attr-defined]
        yield client
    context.close()


@pytest.mark.parametrize("name", list(bombs.BOMBS))
def test_the_api_answers_415_with_a_reason(client: TestClient, name: str) -> None:
    context: StorageContext = client.app_state  # type: ignore[attr-defined]
    key = f"temp/{uuid.uuid4().hex}_1706000000_bomb.png"
    context.store.put(key, bombs.BOMBS[name](), content_type="image/png")
    response = client.post(
        "/api/v1/media-resources/ingest",
        json={
            "media": {"url": context.urls.public_url(key)},
            "entity_type": "PRODUCT",
            "entity_id": str(uuid.uuid4()),
            "slot": "cover_image",
        },
    )
    assert response.status_code == 415
    assert response.json()["detail"]
    assert client.get("/api/v1/media-resources").json()["total"] == 0
