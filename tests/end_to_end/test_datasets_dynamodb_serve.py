"""``serve`` with its datasets metadata on DynamoDB (moto's server): branch creation answers as
lakeFS's API does (a taken name is 409, a missing source 404), and the S3 gateway reads and
writes through the same table."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lakefs
import lakefs_sdk
import pytest
from botocore.exceptions import ClientError
from lakefs.exceptions import BadRequestException

from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.s3_gateway import on_s3, running_gateway


def dynamodb_settings(endpoint: str) -> dict[str, str]:
    return {
        "DATASETS_KV": "dynamodb",
        "DATASETS_DYNAMODB_TABLE": f"kvstore-{uuid.uuid4().hex[:12]}",
        "DATASETS_DYNAMODB_ENDPOINT": endpoint,
        "DATASETS_DYNAMODB_REGION": "eu-central-1",
        "DATASETS_DYNAMODB_ACCESS_KEY_ID": TEST_KEY_ID,
        "DATASETS_DYNAMODB_SECRET_ACCESS_KEY": TEST_SECRET,
    }


def test_branch_creation_and_gateway_reads_on_dynamodb(tmp_path: Path, moto_endpoint: str) -> None:
    env = dynamodb_settings(moto_endpoint)
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


def test_values_over_dynamodb_limits_are_400s_and_lose_nothing(
    tmp_path: Path, moto_endpoint: str
) -> None:
    """A key over DynamoDB's 1024 bytes (an object path, a branch name) or a record over its
    400 KB item (a commit message) is the caller's mistake: 400, as the SDK raises it, not a
    503 "store unavailable" that clients retry; what was staged before is still committed."""
    environment, namespaces = on_s3(moto_endpoint)
    env = environment | dynamodb_settings(moto_endpoint)
    with running_gateway(tmp_path, env, namespaces) as gateway:
        client = lakefs.Client(host=gateway.lakefs, username=KEY_ID, password=SECRET)
        repo = lakefs.repository("limits", client=client).create(
            storage_namespace=f"{namespaces}/limits"
        )
        main = repo.branch("main")
        main.object("kept.txt").upload(b"kept")
        main.object("p" * 1024).upload(b"at the limit")
        # The SDK's uploads raise lakefs_sdk's exceptions unwrapped (so against lakeFS too).
        with pytest.raises(lakefs_sdk.exceptions.BadRequestException, match="1024 bytes"):
            main.object("é" * 520).upload(b"1040 bytes of path")
        with pytest.raises(BadRequestException, match="1024 bytes"):
            repo.branch("b" * 1100).create(source_reference="main")
        with pytest.raises(BadRequestException, match="409600 bytes"):
            main.commit("m" * 500_000)
        main.commit("the staged objects")
        assert sorted(o.path for o in main.objects()) == ["kept.txt", "p" * 1024]
        assert main.object("kept.txt").reader().read() == b"kept"
        assert not list(main.uncommitted())


def test_branch_protection_if_match_has_one_winner(tmp_path: Path, moto_endpoint: str) -> None:
    """Writers that read the same ETag (here ``""``: "only if no rules exist") and PUT at once:
    one 204, every other 412, and the rules are the winner's, as lakeFS's conditional write."""
    environment, namespaces = on_s3(moto_endpoint)
    env = environment | dynamodb_settings(moto_endpoint)
    with running_gateway(tmp_path, env, namespaces) as gateway:
        gateway.create_repository("guarded")
        path = "/repositories/guarded/settings/branch_protection"
        start = threading.Barrier(12)

        def put(i: int) -> int:
            start.wait()
            rules = [{"pattern": f"rule-{i}"}]
            reply = gateway.lakefs_call("PUT", path, json=rules, headers={"If-Match": '""'})
            return reply.status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(put, range(12)))
        assert sorted(statuses) == [204] + [412] * 11, statuses
        winner = statuses.index(204)
        assert gateway.lakefs_call("GET", path).json() == [{"pattern": f"rule-{winner}"}]


def test_create_only_uploads_have_one_winner(tmp_path: Path, moto_endpoint: str) -> None:
    """Concurrent ``If-None-Match: *`` uploads of one new path, through the lakeFS API and the
    S3 gateway: one is stored, every other is 412 (lakeFS's ``IfAbsent``), and the object
    holds the winner's bytes."""
    environment, namespaces = on_s3(moto_endpoint)
    env = environment | dynamodb_settings(moto_endpoint)
    with running_gateway(tmp_path, env, namespaces) as gateway:
        gateway.create_repository("create-only")
        s3 = gateway.client(retries={"max_attempts": 1})
        objects = "/repositories/create-only/branches/main/objects"

        def through_lakefs(i: int) -> int:
            reply = gateway.lakefs_call(
                "POST",
                objects,
                params={"path": "api.txt"},
                content=b"writer %d" % i,
                headers={"If-None-Match": "*"},
            )
            return reply.status_code

        def through_gateway(i: int) -> int:
            try:
                s3.put_object(
                    Bucket="create-only", Key="main/s3.txt", Body=b"writer %d" % i, IfNoneMatch="*"
                )
            except ClientError as exc:
                return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            return 200

        for write, ok, path in ((through_lakefs, 201, "api.txt"), (through_gateway, 200, "s3.txt")):
            start = threading.Barrier(10)

            def race(
                i: int, write: Callable[[int], int] = write, start: threading.Barrier = start
            ) -> int:
                start.wait()
                return write(i)

            with ThreadPoolExecutor(10) as pool:
                statuses = list(pool.map(race, range(10)))
            assert sorted(statuses) == [ok] + [412] * 9, statuses
            body = s3.get_object(Bucket="create-only", Key=f"main/{path}")["Body"].read()
            assert body == b"writer %d" % statuses.index(ok)


def test_if_match_overwrites_have_one_winner(tmp_path: Path, moto_endpoint: str) -> None:
    """S3's optimistic update through the gateway: writers that read the same ETag and PUT
    with ``If-Match`` at once: one 200, every other 412, and the object is the winner's."""
    environment, namespaces = on_s3(moto_endpoint)
    env = environment | dynamodb_settings(moto_endpoint)
    with running_gateway(tmp_path, env, namespaces) as gateway:
        gateway.create_repository("optimistic")
        s3 = gateway.client(retries={"max_attempts": 1})
        read = s3.put_object(Bucket="optimistic", Key="main/state.json", Body=b"v0")["ETag"]
        start = threading.Barrier(10)

        def update(i: int) -> int:
            start.wait()
            try:
                s3.put_object(
                    Bucket="optimistic", Key="main/state.json", Body=b"v%d" % (i + 1), IfMatch=read
                )
            except ClientError as exc:
                return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            return 200

        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(update, range(10)))
        assert sorted(statuses) == [200] + [412] * 9, statuses
        body = s3.get_object(Bucket="optimistic", Key="main/state.json")["Body"].read()
        assert body == b"v%d" % (statuses.index(200) + 1)
