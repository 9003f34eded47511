"""Datasets in buckets of their own (issue 17.2), on moto's server as a real process.

Content in one bucket, two repositories (different prefixes) in another: written, committed
and read through the library and through the lakeFS API (the official SDK against ``serve``).
GC and the media orphan scan each touch only their own keys, shown by listing both buckets
with boto3 before and after. And the embedded default keeps its datasets folder apart from
the content store's.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lakefs
import pytest

from sartiq_storage.adapters.stores import LocalStore, S3Store
from sartiq_storage.core.datasets.model import GcRules
from sartiq_storage.datasets import InvalidArgumentError, open_engine
from sartiq_storage.services.context import build_context
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.testing.moto_server import make_bucket, moto_client
from tests.support.dataset_buckets import (
    KEY_ID,
    SECRET,
    bucket_environment,
    keys,
    served,
    settings_of,
)
from tests.support.datasets import read


@pytest.fixture
def deployment(moto_endpoint: str, tmp_path: Path) -> dict[str, str]:
    content, datasets = make_bucket(moto_endpoint), make_bucket(moto_endpoint)
    return bucket_environment(
        moto_endpoint,
        content,
        tmp_path / "data",
        DATASETS_NAMESPACE_PREFIX=f"s3://{datasets}/repos",
        TEST_DATASETS_BUCKET=datasets,
    )


def test_repositories_live_in_their_own_bucket_and_gc_and_orphan_scan_keep_to_theirs(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    content, datasets = deployment["R2_BUCKET_NAME"], deployment["TEST_DATASETS_BUCKET"]
    settings = settings_of(deployment)
    assert settings.datasets_blockstore == "s3"
    s3 = moto_client(moto_endpoint)
    media_orphan = f"media/{uuid.uuid4()}/file.png"
    s3.put_object(Bucket=content, Key=media_orphan, Body=b"\x89PNG orphan")
    s3.put_object(Bucket=content, Key="compute/x/result.webp", Body=b"compute bytes")

    # The library: a repository at s3://<datasets>/teams/alpha, never the content bucket.
    engine = open_engine(settings)
    try:
        with pytest.raises(InvalidArgumentError, match="content bucket"):
            engine.create_repository("nope", f"s3://{content}/datasets/nope")
        with pytest.raises(InvalidArgumentError, match=r"\^s3://"):
            engine.create_repository("nope", "local://datasets/nope")
        engine.create_repository("alpha", f"s3://{datasets}/teams/alpha")
        store, prefix = engine.store_for("alpha")
        assert isinstance(store, S3Store)
        assert (store.bucket, prefix) == (datasets, "teams/alpha")
        assert engine.store_for("alpha")[0] is store  # one store per bucket, cached
        engine.put_object("alpha", "main", "old.txt", b"old bytes")
        engine.commit("alpha", "main", "old")
        engine.delete_object("alpha", "main", "old.txt")
        engine.put_object("alpha", "main", "train/a.jpg", b"alpha a")
        engine.commit("alpha", "main", "train")
        assert read(engine, "alpha", "main@", "train/a.jpg") == b"alpha a"
    finally:
        engine.close()

    # The lakeFS API on serve, with the official SDK: a second repository, same bucket.
    with served(tmp_path, deployment) as service:
        storage = httpx.get(f"{service.lakefs}/config/storage", auth=(KEY_ID, SECRET)).json()
        assert storage["blockstore_namespace_ValidityRegex"] == "^s3://"
        assert storage["import_validity_regex"] == "^s3://"
        assert storage["default_namespace_prefix"] == f"s3://{datasets}/repos"
        beta = lakefs.repository("beta", client=service.client).create(
            storage_namespace=f"s3://{datasets}/teams/beta"
        )
        main = beta.branch("main")
        main.object("labels.csv").upload(data=b"path,label\na.jpg,shirt\n")
        main.commit(message="labels")
        assert main.object("labels.csv").reader().read() == b"path,label\na.jpg,shirt\n"
        alpha = lakefs.repository("alpha", client=service.client)
        assert alpha.ref("main").object("train/a.jpg").reader().read() == b"alpha a"
        refused = httpx.post(
            f"{service.lakefs}/repositories",
            json={"name": "incontent", "storage_namespace": f"s3://{content}/ds/x"},
            auth=(KEY_ID, SECRET),
        )
        assert refused.status_code == 400
        assert "content bucket" in refused.json()["message"]

    dataset_keys = keys(moto_endpoint, datasets)
    assert {k.split("/")[1] for k in dataset_keys} == {"alpha", "beta"}
    assert not any(k.startswith(("teams/", "repos/")) for k in keys(moto_endpoint, content))

    # GC of alpha deletes only alpha's dead blob: beta and the content bucket keep every key.
    content_before = keys(moto_endpoint, content)
    beta_before = keys(moto_endpoint, datasets, "teams/beta/")
    engine = open_engine(settings)
    try:
        engine.set_gc_rules("alpha", GcRules(default_retention_days=0))
        engine.clock = lambda: time.time() + 2 * 86_400
        report = engine.gc("alpha", dry_run=False, grace_seconds=0)
        assert report.deleted == 1
    finally:
        engine.close()
    assert keys(moto_endpoint, content) == content_before
    assert keys(moto_endpoint, datasets, "teams/beta/") == beta_before
    gone = {k for k in dataset_keys if k.startswith("teams/alpha/")} - keys(
        moto_endpoint, datasets, "teams/alpha/"
    )
    assert len(gone) == 1
    assert next(iter(gone)).startswith("teams/alpha/data/")

    # The media orphan scan (applied) lists the content bucket only: its orphan is found
    # (and queued for deletion), the dataset bucket is neither scanned nor touched.
    datasets_before = keys(moto_endpoint, datasets)
    context = build_context(settings, migrate=True)
    try:
        scan = OrphanScanner(context.db, context.store, context.media).scan(
            grace=timedelta(0), apply=True, now=datetime.now(UTC) + timedelta(days=1)
        )
    finally:
        context.close()
    assert (scan.orphan_objects, scan.orphan_object_sample) == (1, [media_orphan])
    assert scan.objects_scanned <= len(keys(moto_endpoint, content))
    assert keys(moto_endpoint, datasets) == datasets_before


def test_the_content_bucket_only_when_allowed(
    deployment: dict[str, str], moto_endpoint: str
) -> None:
    content = deployment["R2_BUCKET_NAME"]
    allowed = settings_of({**deployment, "DATASETS_ALLOW_CONTENT_BUCKET": "true"})
    engine = open_engine(allowed)
    try:
        with pytest.raises(InvalidArgumentError, match="overlaps the content zone 'media/'"):
            engine.create_repository("inmedia", f"s3://{content}/media/x")
        engine.create_repository("shared", f"s3://{content}/datasets/shared")
        engine.put_object("shared", "main", "a.txt", b"a")
        engine.commit("shared", "main", "a")
        assert engine.store_for("shared")[1] == "datasets/shared"
    finally:
        engine.close()
    assert any(k.startswith("datasets/shared/") for k in keys(moto_endpoint, content))


def test_the_embedded_default_keeps_datasets_in_a_folder_of_their_own(tmp_path: Path) -> None:
    settings = settings_of({"STORAGE_DATA_DIR": str(tmp_path / "data")})
    assert settings.datasets_blockstore == "local"
    engine = open_engine(settings)
    try:
        engine.create_repository("local", "local://datasets/local")
        engine.put_object("local", "main", "a.txt", b"bytes a")
        engine.commit("local", "main", "a")
        store, prefix = engine.store_for("local")
        assert isinstance(store, LocalStore)
        assert prefix == "datasets/local"
        assert store is not engine.store  # the content store
        with pytest.raises(InvalidArgumentError, match=r"\^local://"):
            engine.create_repository("remote", "s3://somewhere/x")
    finally:
        engine.close()
    data = tmp_path / "data"
    assert list((data / "datasets" / "objects" / "datasets" / "local" / "data").rglob("*.*"))
    content_objects = data / "store" / "objects"
    assert not content_objects.exists() or not any(content_objects.rglob("*.*"))


def test_a_datasets_folder_inside_the_content_store_is_refused(tmp_path: Path) -> None:
    from sartiq_storage.core.errors import ConfigurationError

    data = tmp_path / "data"
    settings = settings_of(
        {"STORAGE_DATA_DIR": str(data), "DATASETS_LOCAL_PATH": str(data / "store" / "ds")}
    )
    with pytest.raises(ConfigurationError, match="DATASETS_LOCAL_PATH"):
        open_engine(settings)
