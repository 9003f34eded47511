"""Run moto's S3 server as a real process on 127.0.0.1, for tests and benchmarks; its
client, store and settings helpers work against SeaweedFS too (the same test credentials)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import httpx

from sartiq_storage.adapters.datasets.dynamodb import DynamoKV
from sartiq_storage.adapters.stores import S3Store
from sartiq_storage.testing.process_group import process_group

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_Store = TypeVar("_Store", bound=S3Store)

TEST_KEY_ID = "testing-key"
TEST_SECRET = "testing-secret"  # noqa: S105 (moto accepts any; not a secret)
"""Any credentials do for moto; these are the tests'."""


def moto_client(endpoint: str, key_id: str = TEST_KEY_ID, secret: str = TEST_SECRET) -> S3Client:
    """A boto3 S3 client for moto's server at ``endpoint``."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


def moto_dynamodb(endpoint: str) -> DynamoDBClient:
    """A boto3 DynamoDB client for moto's server (it serves every service on one port)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        aws_access_key_id=TEST_KEY_ID,
        aws_secret_access_key=TEST_SECRET,
        region_name="us-east-1",
    )


def moto_dynamo_kv(endpoint: str) -> DynamoKV:
    """A :class:`DynamoKV` on a fresh table of moto's server (created by the adapter)."""
    return DynamoKV(moto_dynamodb(endpoint), f"kv-{uuid.uuid4().hex[:20]}")


def moto_store(
    endpoint: str,
    bucket: str,
    key_id: str = TEST_KEY_ID,
    secret: str = TEST_SECRET,
    **options: Any,
) -> S3Store:
    """Our S3 adapter on ``bucket`` at moto's server (or a proxy in front of it);
    ``options`` go to :class:`S3Store` (``max_attempts``, ``flavor``, timeouts…)."""
    return s3_store_of(S3Store, endpoint, bucket, key_id, secret, **options)


def s3_store_of(
    store_class: type[_Store],
    endpoint: str,
    bucket: str,
    key_id: str = TEST_KEY_ID,
    secret: str = TEST_SECRET,
    **options: Any,
) -> _Store:
    """:func:`moto_store` for a subclass of :class:`S3Store` (a test's store that watches
    or breaks its own calls)."""
    return store_class(
        bucket=bucket,
        endpoint_url=endpoint,
        access_key_id=key_id,
        secret_access_key=secret,
        region="us-east-1",
        **options,
    )


def moto_settings(endpoint: str, bucket: str) -> dict[str, str]:
    """The settings that point the service's R2 backend at ``bucket`` on moto's server."""
    return {
        "R2_ENDPOINT_URL": endpoint,
        "R2_BUCKET_NAME": bucket,
        "R2_ACCESS_KEY_ID": TEST_KEY_ID,
        "R2_SECRET_ACCESS_KEY": TEST_SECRET,
        "R2_REGION": "us-east-1",
    }


def make_bucket(endpoint: str) -> str:
    """A fresh, empty bucket on the test server at ``endpoint`` (moto or SeaweedFS)."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    moto_client(endpoint).create_bucket(Bucket=name)
    return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port; yield its endpoint URL."""
    port = free_port()
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    endpoint = f"http://127.0.0.1:{port}"
    with process_group(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    ) as proc:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1.0)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
