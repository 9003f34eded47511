"""A dataset repository never lives inside a content zone, and the zones' cleaners never take
a repository's objects for their own (issue 14).

Refused at creation through the library, the lakeFS API on a running ``serve`` and the CLI;
repositories made before that are reported by ``serve`` and ``datasets check``; and the
orphan scan and the lifecycle sweep (``worker --once``) leave their committed data alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sartiq_storage.adapters.datasets.kv import SqlKV
from sartiq_storage.adapters.datasets.lakefs import LakeFSEngine
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.stores import open_store
from sartiq_storage.core.config import Settings, load_settings
from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES, is_dataset_object
from sartiq_storage.datasets import InvalidArgumentError, NativeDatasetEngine, open_engine
from sartiq_storage.services.context import datasets_credentials_for
from sartiq_storage.services.delivery import DERIVED_PREFIX
from sartiq_storage.testing.moto_server import free_port
from tests.support.datasets import read
from tests.support.serve_process import get_once_up, serve_process

CLI = str(Path(sys.executable).with_name("sartiq-storage"))
INSIDE_ZONES = [
    "local://media",
    "local://temp",
    "compute",
    "local://derived",
    "local://images",
    "local://shooting_looks",
    "local://_storage",
    "media/datasets/x",
    "local://compute/ds/",
    "local://Media/x",
]
# Repositories made inside zones before the check existed: what the cleaners must spare.
LEGACY = {"inmedia": "local://media", "incompute": "compute", "inderived": "local://derived"}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(_env_file=None, STORAGE_DATA_DIR=tmp_path / "data", **extra)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORAGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "300"}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_derivatives_prefix_is_reserved() -> None:
    assert DERIVED_PREFIX in RESERVED_PREFIXES


@pytest.mark.parametrize("namespace", INSIDE_ZONES)
def test_the_library_refuses_a_namespace_inside_a_content_zone(
    tmp_path: Path, namespace: str
) -> None:
    engine = open_engine(_settings(tmp_path))
    try:
        with pytest.raises(InvalidArgumentError, match="overlaps the content zone"):
            engine.create_repository("dsx", namespace)
        assert engine.list_repositories() == []
    finally:
        engine.close()


def test_the_library_refuses_a_namespace_inside_or_around_another_repository(
    tmp_path: Path,
) -> None:
    engine = open_engine(_settings(tmp_path))
    try:
        engine.create_repository("outer", "local://datasets/outer")
        for namespace in ("datasets/outer", "datasets/outer/inner", "local://datasets"):
            with pytest.raises(InvalidArgumentError, match="repository 'outer'"):
                engine.create_repository("other", namespace)
        engine.create_repository("sibling", "datasets/outer-2")  # a sibling, not a folder
    finally:
        engine.close()


def test_prefixes_the_lifecycle_policy_expires_are_reserved_too(tmp_path: Path) -> None:
    policy = tmp_path / "lifecycle.toml"
    policy.write_text(
        'version = 1\n[[rules]]\nprefix = "scratch/"\nexpire_days = 2\n'
        '[[rules]]\nprefix = "datasets/"\npermanent = true\n'
    )
    engine = open_engine(_settings(tmp_path, STORAGE_LIFECYCLE_FILE=policy))
    try:
        with pytest.raises(InvalidArgumentError, match="'scratch/'"):
            engine.create_repository("dsx", "scratch/dsx")
        engine.create_repository("dsx", "datasets/dsx")  # a permanent prefix deletes nothing
    finally:
        engine.close()


@pytest.mark.parametrize(
    "namespace",
    ["s3://content-bucket/media", "s3://content-bucket/compute/x", "s3://content-bucket"],
)
def test_the_real_lakefs_client_refuses_zones_of_the_content_bucket(namespace: str) -> None:
    """With ``LAKEFS_ENDPOINT`` a real lakeFS stores the data; in the platform's own bucket
    it is refused before any request (the endpoint here listens nowhere)."""
    engine = LakeFSEngine(
        f"http://127.0.0.1:{free_port()}/api/v1", "key", "secret", content_bucket="content-bucket"
    )
    try:
        with pytest.raises(InvalidArgumentError, match="content"):
            engine.create_repository("dsx", namespace)
    finally:
        engine.close()


def test_is_dataset_object_knows_the_engine_layout() -> None:
    sha = "ab" * 32
    assert is_dataset_object(f"media/data/ab/{sha}")
    assert is_dataset_object(f"compute/x/_meta/ranges/{sha}")
    assert is_dataset_object(f"derived/_meta/metaranges/{sha}")
    assert not is_dataset_object("compute/generations/t1/result_0.webp")
    assert not is_dataset_object(f"media/{sha[:8]}/file.png")


@pytest.fixture
def legacy_repositories(tmp_path: Path) -> Iterator[Settings]:
    """Repositories inside content zones, committed, as an older version could make them;
    every object on the store is then dated 40 days back (past the orphan grace and every
    sweep retention)."""
    settings = _settings(tmp_path)
    database = Database.from_url(settings.database_url)
    upgrade(database)
    engine = NativeDatasetEngine(
        SqlKV(database, owns_database=True), open_store(settings), reserved_prefixes=()
    )
    for name, namespace in LEGACY.items():
        engine.create_repository(name, namespace)
        engine.put_object(name, "main", "train/a.jpg", f"{name} a".encode())
        engine.put_object(name, "main", "labels.csv", f"{name} labels".encode())
        engine.commit(name, "main", "first")
    engine.close()
    old = time.time() - 40 * 86400
    aged = 0
    for root, _dirs, files in os.walk(tmp_path / "data" / "store"):
        for file in files:
            os.utime(Path(root) / file, (old, old))
            aged += 1
    assert aged >= 3 * 4  # per repository: two blobs, a range, metaranges
    return settings


def test_committed_data_of_a_repository_in_a_zone_survives_worker_once(
    tmp_path: Path, legacy_repositories: Settings
) -> None:
    """End to end: ``worker --once --force`` runs the orphan scan (applied) and the sweep;
    before the fix they deleted ``media/data/…``, ``media/_meta/…`` and the ``compute/`` and
    ``derived/`` repositories' objects, and reads answered 410."""
    once = _cli(tmp_path, "worker", "--once", "--force")
    assert once.returncode == 0, once.stderr
    again = _cli(tmp_path, "worker", "--once", "--force")  # and whatever the first queued
    assert again.returncode == 0, again.stderr
    engine = open_engine(legacy_repositories)
    try:
        for name in LEGACY:
            assert read(engine, name, "main@", "train/a.jpg") == f"{name} a".encode()
            assert read(engine, name, "main@", "labels.csv") == f"{name} labels".encode()
            assert len(engine.log(name, "main")) == 2
    finally:
        engine.close()


def test_datasets_check_reports_repositories_in_zones(
    tmp_path: Path, legacy_repositories: Settings
) -> None:
    check = _cli(tmp_path, "datasets", "check")
    assert check.returncode == 1
    assert "Traceback" not in check.stderr
    for name, _namespace in LEGACY.items():
        assert name in check.stderr
    assert "overlaps the content zone 'media/'" in check.stderr
    as_json = _cli(tmp_path, "datasets", "check", "--json")
    assert as_json.returncode == 1
    assert {row["repository"] for row in json.loads(as_json.stdout)} == set(LEGACY)


def test_datasets_check_passes_and_the_cli_refuses_a_zone(tmp_path: Path) -> None:
    refused = _cli(tmp_path, "datasets", "repo", "create", "dsx", "--namespace", "local://media")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line, no traceback
    assert "overlaps the content zone 'media/'" in refused.stderr
    made = _cli(tmp_path, "datasets", "repo", "create", "dsx")
    assert made.returncode == 0, made.stderr
    check = _cli(tmp_path, "datasets", "check")
    assert check.returncode == 0, check.stderr


def test_serve_warns_at_start_and_the_lakefs_api_refuses_zones(
    tmp_path: Path, legacy_repositories: Settings
) -> None:
    key_id, secret, _generated = datasets_credentials_for(legacy_repositories)
    assert key_id is not None
    assert secret is not None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_process(tmp_path, port) as proc:
        assert get_once_up(f"{base}/healthz").status_code == 200
        with httpx.Client(base_url=f"{base}/lakefs/api/v1", auth=(key_id, secret)) as client:
            for namespace in INSIDE_ZONES:
                answer = client.post(
                    "/repositories", json={"name": "dsx", "storage_namespace": namespace}
                )
                assert answer.status_code == 400, (namespace, answer.text)
                assert "overlaps the content zone" in answer.json()["message"]
            nested = client.post(
                "/repositories", json={"name": "dsx", "storage_namespace": "media/x"}
            )
            assert nested.status_code == 400
            made = client.post(
                "/repositories",
                json={"name": "dsx", "storage_namespace": "local://datasets/dsx"},
            )
            assert made.status_code == 201, made.text
            around = client.post(
                "/repositories", json={"name": "dsx2", "storage_namespace": "datasets/dsx/x"}
            )
            assert around.status_code == 400
            assert "repository 'dsx'" in around.json()["message"]
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    warnings = [line for line in output.splitlines() if "dataset repository" in line]
    assert {name for name in LEGACY if any(repr(name) in line for line in warnings)} == set(
        LEGACY
    ), output
