"""``serve`` with its datasets metadata on DynamoDB (moto's server): branch creation answers as
lakeFS's API does (a taken name is 409, a missing source 404), and the S3 gateway reads and
writes through the same table."""

from __future__ import annotations

import uuid
from pathlib import Path

from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET
from tests.support.s3_gateway import running_gateway


def test_branch_creation_and_gateway_reads_on_dynamodb(tmp_path: Path, moto_endpoint: str) -> None:
    env = {
        "DATASETS_KV": "dynamodb",
        "DATASETS_DYNAMODB_TABLE": f"kvstore-{uuid.uuid4().hex[:12]}",
        "DATASETS_DYNAMODB_ENDPOINT": moto_endpoint,
        "DATASETS_DYNAMODB_REGION": "eu-central-1",
        "DATASETS_DYNAMODB_ACCESS_KEY_ID": TEST_KEY_ID,
        "DATASETS_DYNAMODB_SECRET_ACCESS_KEY": TEST_SECRET,
    }
    with running_gateway(tmp_path, env) as gateway:
        gateway.create_repository("dyn-repo")
        s3 = gateway.client()
        s3.put_object(Bucket="dyn-repo", Key="main/a.txt", Body=b"one")
        head = gateway.commit("dyn-repo", "main", "first")
        branches = "/repositories/dyn-repo/branches"
        made = gateway.lakefs_call("POST", branches, json={"name": "feat", "source": "main"})
        assert made.status_code == 201, made.text
        again = gateway.lakefs_call("POST", branches, json={"name": "feat", "source": "main"})
        assert again.status_code == 409, again.text
        missing = gateway.lakefs_call("POST", branches, json={"name": "x", "source": "nope"})
        assert missing.status_code == 404, missing.text
        assert gateway.lakefs_call("GET", f"{branches}/feat").json()["commit_id"] == head
        assert s3.get_object(Bucket="dyn-repo", Key="feat/a.txt")["Body"].read() == b"one"
        s3.put_object(Bucket="dyn-repo", Key="feat/a.txt", Body=b"two")
        assert s3.get_object(Bucket="dyn-repo", Key="feat/a.txt")["Body"].read() == b"two"
        assert s3.get_object(Bucket="dyn-repo", Key=f"{head}/a.txt")["Body"].read() == b"one"
