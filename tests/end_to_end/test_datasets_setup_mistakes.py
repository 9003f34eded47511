"""Set-up mistakes a newcomer makes with the seed's deployment (docs/datasets.md), seen from
the outside: a namespace in a bucket nobody created, a DynamoDB table that is not there
while its creation is turned off, and DynamoDB refusing the credentials. Each is one clear
answer, never a 500 or a traceback."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, make_bucket
from tests.support.cli import ENTRY_POINT, run_cli
from tests.support.dataset_buckets import KEY_ID, SECRET, bucket_environment, served


def test_a_namespace_in_a_bucket_that_does_not_exist_is_a_400(
    moto_endpoint: str, tmp_path: Path
) -> None:
    environment = bucket_environment(moto_endpoint, make_bucket(moto_endpoint), tmp_path / "data")
    missing = f"s3://missing-{uuid.uuid4().hex[:12]}/accuracy"
    with served(tmp_path, environment) as service:
        reply = httpx.post(
            f"{service.lakefs}/repositories",
            json={"name": "accuracy", "storage_namespace": missing},
            auth=(KEY_ID, SECRET),
            timeout=60,
        )
        assert reply.status_code == 400, reply.text
        assert missing in reply.json()["message"]
        assert "bucket does not exist" in reply.json()["message"]
        listed = httpx.get(f"{service.lakefs}/repositories", auth=(KEY_ID, SECRET), timeout=60)
        assert listed.json()["results"] == []
    created = run_cli(
        "datasets", "repo", "create", "accuracy", "--namespace", missing, env=environment
    )
    assert created.returncode == 1
    assert "bucket does not exist" in created.stderr
    assert "Traceback" not in created.stderr


def test_a_missing_dynamodb_table_without_creation_is_one_line(
    moto_endpoint: str, tmp_path: Path
) -> None:
    table = f"kvstore-{uuid.uuid4().hex[:12]}"
    environment = {
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "DATASETS_KV": "dynamodb",
        "DATASETS_DYNAMODB_TABLE": table,
        "DATASETS_DYNAMODB_ENDPOINT": moto_endpoint,
        "DATASETS_DYNAMODB_REGION": "eu-central-1",
        "DATASETS_DYNAMODB_ACCESS_KEY_ID": TEST_KEY_ID,
        "DATASETS_DYNAMODB_SECRET_ACCESS_KEY": TEST_SECRET,
        "DATASETS_DYNAMODB_CREATE_TABLE": "false",
    }
    listed = run_cli("datasets", "repo", "list", env=environment, cwd=tmp_path)
    assert listed.returncode == 1
    assert "Traceback" not in listed.stderr
    assert listed.stderr.strip() == (
        f"error: DynamoDB table {table!r} does not exist and "
        "DATASETS_DYNAMODB_CREATE_TABLE=false: create it, or allow its creation"
    )


class _WrongCredentials(http.server.BaseHTTPRequestHandler):
    """What DynamoDB answers every call signed with keys it does not know."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps(
            {
                "__type": "com.amazon.coral.service#UnrecognizedClientException",
                "message": "The security token included in the request is invalid.",
            }
        ).encode()
        self.send_response(400)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _refusing_dynamodb() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WrongCredentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_dynamodb_refusing_the_credentials_is_one_line(tmp_path: Path) -> None:
    with _refusing_dynamodb() as endpoint:
        environment = {
            "STORAGE_DATA_DIR": str(tmp_path / "data"),
            "DATASETS_KV": "dynamodb",
            "DATASETS_DYNAMODB_ENDPOINT": endpoint,
            "DATASETS_DYNAMODB_REGION": "eu-central-1",
            "DATASETS_DYNAMODB_ACCESS_KEY_ID": "AKIAWRONG",
            "DATASETS_DYNAMODB_SECRET_ACCESS_KEY": "wrong",
        }
        listed = run_cli("datasets", "repo", "list", env=environment, cwd=tmp_path)
    assert listed.returncode == 1
    assert "Traceback" not in listed.stderr
    assert listed.stderr.strip() == (
        "error: object store unavailable: DynamoDB: access denied (check the credentials)"
    )


def test_a_dynamodb_key_id_without_its_secret_is_a_settings_error(tmp_path: Path) -> None:
    environment = {
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "DATASETS_KV": "dynamodb",
        "DATASETS_DYNAMODB_REGION": "eu-central-1",
        "DATASETS_DYNAMODB_ACCESS_KEY_ID": "AKIAONLYTHEID",
    }
    listed = run_cli("datasets", "repo", "list", env=environment, cwd=tmp_path)
    assert listed.returncode == 1
    assert "Traceback" not in listed.stderr
    assert (
        "DATASETS_DYNAMODB_ACCESS_KEY_ID and DATASETS_DYNAMODB_SECRET_ACCESS_KEY must be set "
        "together" in listed.stderr
    )


def _without_aws_chain(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """``sartiq-storage datasets repo list`` on a machine with nothing configured for AWS: no
    region, no keys, no profile files, no instance role."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment |= {
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "DATASETS_KV": "dynamodb",
        **settings,
    }
    return subprocess.run(
        [str(ENTRY_POINT), "datasets", "repo", "list"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_dynamodb_without_a_region_or_credentials_is_one_line(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """The DynamoDB Local set-up the docs describe, on a machine without an AWS profile:
    each missing piece is named in one line, never botocore's traceback."""
    no_region = _without_aws_chain(tmp_path, DATASETS_DYNAMODB_ENDPOINT=moto_endpoint)
    assert no_region.returncode == 1
    assert "Traceback" not in no_region.stderr
    assert no_region.stderr.strip() == (
        "error: DynamoDB needs a region: set DATASETS_DYNAMODB_REGION (or the AWS chain's)"
    )
    no_keys = _without_aws_chain(
        tmp_path, DATASETS_DYNAMODB_ENDPOINT=moto_endpoint, DATASETS_DYNAMODB_REGION="eu-central-1"
    )
    assert no_keys.returncode == 1
    assert "Traceback" not in no_keys.stderr
    assert (
        no_keys.stderr.strip() == "error: object store unavailable: DynamoDB: no credentials found"
    )
