"""A running ``serve --s3-gateway-port`` and S3 clients pointed at its gateway."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from sartiq_storage.testing.moto_server import free_port, make_bucket, moto_settings
from tests.support.dataset_buckets import datasets_bucket
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.serve_process import get_once_up, serve_process

REGION = "us-east-1"


@dataclass(frozen=True)
class Gateway:
    """The service (its lakeFS API for setup and commits) and the gateway's endpoint."""

    api: str
    endpoint: str
    folder: Path
    namespaces: str = "local://datasets"
    """Where new repositories live (``create_repository``): the embedded folder, or a bucket."""

    @property
    def lakefs(self) -> str:
        return f"{self.api}/lakefs/api/v1"

    def client(self, *, key: str = KEY_ID, secret: str = SECRET, **config: Any) -> Any:
        """boto3's S3 client on the gateway, path-style, the datasets key pair."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def lakefs_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call to the lakeFS API with the same keys (HTTP basic)."""
        return httpx.request(
            method, f"{self.lakefs}{path}", auth=(KEY_ID, SECRET), timeout=60, **kwargs
        )

    def create_repository(self, name: str) -> None:
        reply = self.lakefs_call(
            "POST",
            "/repositories",
            json={"name": name, "storage_namespace": f"{self.namespaces}/{name}"},
        )
        assert reply.status_code == 201, reply.text

    def commit(self, repo: str, branch: str, message: str) -> str:
        reply = self.lakefs_call(
            "POST", f"/repositories/{repo}/branches/{branch}/commits", json={"message": message}
        )
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])


def on_s3(endpoint: str) -> tuple[dict[str, str], str]:
    """The settings that run ``serve`` on the S3 server at ``endpoint`` (content in one
    bucket, datasets in another, as the seed deploys them), and that bucket's namespaces."""
    environment = {
        **moto_settings(endpoint, make_bucket(endpoint)),
        "AUTH_JWT_SECRET": "s3-gateway-tests-jwt-secret-0123456789",
    }
    datasets, settings = datasets_bucket(endpoint)
    return environment | settings, f"s3://{datasets}/datasets"


@contextlib.contextmanager
def running_gateway(
    folder: Path, env: dict[str, str] | None = None, namespaces: str = "local://datasets"
) -> Iterator[Gateway]:
    port, gateway_port = free_port(), free_port()
    environment = {
        "DATASETS_ACCESS_KEY_ID": KEY_ID,
        "DATASETS_SECRET_ACCESS_KEY": SECRET,
        **(env or {}),
    }
    with serve_process(folder, port, "--s3-gateway-port", str(gateway_port), env=environment):
        api = f"http://127.0.0.1:{port}"
        endpoint = f"http://127.0.0.1:{gateway_port}"
        get_once_up(f"{api}/healthz", attempts=300)
        get_once_up(endpoint, attempts=300)
        yield Gateway(api, endpoint, folder, namespaces)
