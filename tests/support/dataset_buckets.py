"""A deployment as the seed runs it, on moto's server: content in one bucket, datasets in
buckets of their own (``DATASETS_S3_*``), and ``serve`` started on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import lakefs

from sartiq_storage.core.config import Settings, load_settings
from sartiq_storage.testing.moto_server import (
    TEST_KEY_ID,
    TEST_SECRET,
    free_port,
    moto_client,
    moto_settings,
)
from tests.support.serve_process import get_once_up, serve_process

KEY_ID = "AKIABUCKETS0001"
SECRET = "datasets-in-their-own-buckets-secret"


def bucket_environment(
    endpoint: str, content_bucket: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The settings, as environment variables, of that deployment."""
    return {
        **moto_settings(endpoint, content_bucket),
        "STORAGE_DATA_DIR": str(data_dir),
        "AUTH_JWT_SECRET": "dataset-buckets-tests-jwt-secret-0123456789",
        "DATASETS_ACCESS_KEY_ID": KEY_ID,
        "DATASETS_SECRET_ACCESS_KEY": SECRET,
        "DATASETS_S3_ENDPOINT": endpoint,
        "DATASETS_S3_REGION": "eu-central-1",
        "DATASETS_S3_ACCESS_KEY_ID": TEST_KEY_ID,
        "DATASETS_S3_SECRET_ACCESS_KEY": TEST_SECRET,
        **extra,
    }


def settings_of(environment: dict[str, str]) -> Settings:
    return load_settings(_env_file=None, **environment)  # type: ignore[arg-type]


def keys(endpoint: str, bucket: str, prefix: str = "") -> set[str]:
    """Every key in ``bucket`` under ``prefix``, read with boto3 (not through our adapters)."""
    client = moto_client(endpoint)
    found: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update(item["Key"] for item in page.get("Contents", []))
    return found


@dataclass(frozen=True)
class Served:
    base: str
    client: lakefs.Client

    @property
    def lakefs(self) -> str:
        return f"{self.base}/lakefs/api/v1"


@contextmanager
def served(cwd: Path, environment: dict[str, str]) -> Iterator[Served]:
    """``sartiq-storage serve`` on that deployment, with a lakeFS SDK client for it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_process(cwd, port, env=environment):
        get_once_up(f"{base}/healthz", attempts=200)
        yield Served(
            base, lakefs.Client(host=f"{base}/lakefs/api/v1", username=KEY_ID, password=SECRET)
        )


def datasets_bucket(endpoint: str) -> tuple[str, dict[str, str]]:
    """A fresh bucket for datasets beside the content one, and the settings that put new
    repositories there (``s3://<bucket>/datasets/…``, what ``/config/storage`` suggests)."""
    from sartiq_storage.testing.moto_server import make_bucket

    bucket = make_bucket(endpoint)
    return bucket, {
        "DATASETS_S3_ENDPOINT": endpoint,
        "DATASETS_S3_REGION": "eu-central-1",
        "DATASETS_S3_ACCESS_KEY_ID": TEST_KEY_ID,
        "DATASETS_S3_SECRET_ACCESS_KEY": TEST_SECRET,
        "DATASETS_NAMESPACE_PREFIX": f"s3://{bucket}/datasets",
    }
