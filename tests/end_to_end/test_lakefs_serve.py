"""``serve`` on the embedded default: generated datasets keys, printed, accepted by the SDK."""

from __future__ import annotations

import time
from pathlib import Path

import lakefs

from sartiq_storage.core.config import load_settings
from sartiq_storage.services.context import datasets_credentials_for
from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import get_once_up, serve_process


def test_credentials_are_generated_once_and_only_for_the_embedded_default(tmp_path: Path) -> None:
    embedded = load_settings(STORAGE_DATA_DIR=tmp_path, ENVIRONMENT="development")
    first = datasets_credentials_for(embedded)
    assert first[2] is True
    assert first[0] is not None
    assert first[0].startswith("AKIA")
    assert datasets_credentials_for(embedded) == first  # persisted in secrets.json
    given = load_settings(
        STORAGE_DATA_DIR=tmp_path, DATASETS_ACCESS_KEY_ID="k", DATASETS_SECRET_ACCESS_KEY="s"
    )
    assert datasets_credentials_for(given) == ("k", "s", False)
    staging = load_settings(STORAGE_DATA_DIR=tmp_path, ENVIRONMENT="staging")
    assert datasets_credentials_for(staging) == (None, None, False)


def test_serve_prints_the_lakefs_endpoint_and_keys(tmp_path: Path) -> None:
    port = free_port()
    with serve_process(tmp_path, port) as proc:
        assert proc.stdout is not None
        printed: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "secret access key" not in printed:
            line = proc.stdout.readline()
            label, _, value = line.partition(":")
            if label.strip() in ("access key id", "secret access key"):
                printed[label.strip()] = value.strip()
            elif label.startswith("lakeFS-compatible API"):
                printed["endpoint"] = line.split("API:", 1)[1].strip()
        assert printed["endpoint"] == f"http://127.0.0.1:{port}/lakefs/api/v1"
        get_once_up(f"{printed['endpoint']}/healthcheck")
        client = lakefs.Client(
            host=printed["endpoint"],
            username=printed["access key id"],
            password=printed["secret access key"],
        )
        repo = lakefs.repository("served", client=client).create("local://datasets/served")
        assert [b.id for b in repo.branches()] == ["main"]
