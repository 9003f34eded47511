"""What each S3 server of the tests does where S3 and R2 differ, pinned per server.

The table "Where stores differ" in ``docs/reliability.md`` is these observations: moto is lax
(copy conditions ignored), SeaweedFS is strict as S3 and R2 are, and has one listing bug of its
own that our listing works around. A test here failing means a server changed: update the
table with it. (What each server enforces on a presigned PUT: ``test_upload_refusals.py``.)
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sartiq_storage.core.errors import PreconditionFailedError
from tests.support.s3_servers import S3Server


def _status(call: Any, **params: Any) -> int:
    try:
        call(**params)
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def test_copy_conditions(s3_server: S3Server, server_bucket: str) -> None:
    """``If-None-Match: *`` on CopyObject (S3's create-only copy) and
    ``x-amz-copy-source-if-match`` (a copy pinned to the source's ETag): SeaweedFS refuses
    with 412 as S3 does, moto copies anyway. R2's ``cf-copy-destination-if-none-match`` is
    R2's alone: both overwrite."""
    client = s3_server.client()
    bucket = server_bucket
    client.put_object(Bucket=bucket, Key="d/src", Body=b"new")
    client.put_object(Bucket=bucket, Key="d/dst", Body=b"old")
    source = {"Bucket": bucket, "Key": "d/src"}
    honoured = 412 if s3_server.strict else 200

    create_only = _status(
        client.copy_object, Bucket=bucket, Key="d/dst", CopySource=source, IfNoneMatch="*"
    )
    assert create_only == honoured
    expected = b"old" if s3_server.strict else b"new"
    assert client.get_object(Bucket=bucket, Key="d/dst")["Body"].read() == expected

    seen = client.head_object(Bucket=bucket, Key="d/src")["ETag"]
    client.put_object(Bucket=bucket, Key="d/src", Body=b"changed")
    pinned = _status(
        client.copy_object, Bucket=bucket, Key="d/pinned", CopySource=source, CopySourceIfMatch=seen
    )
    assert pinned == honoured
    assert _status(client.head_object, Bucket=bucket, Key="d/pinned") == (
        404 if s3_server.strict else 200
    )

    def r2_header(request: Any, **_: Any) -> None:
        request.headers["cf-copy-destination-if-none-match"] = "*"

    client.meta.events.register("before-sign.s3.CopyObject", r2_header)
    assert _status(client.copy_object, Bucket=bucket, Key="d/dst", CopySource=source) == 200
    assert client.get_object(Bucket=bucket, Key="d/dst")["Body"].read() == b"changed"


def test_create_only_copies_race_to_one_winner_where_the_header_is_honoured(
    s3_server: S3Server, server_bucket: str
) -> None:
    """Eight create-only copies (``STORAGE_S3_FLAVOR=aws``: ``If-None-Match: *``) race for one
    destination: one wins, seven are refused, the destination holds the winner's bytes."""
    if not s3_server.strict:
        pytest.skip("moto ignores If-None-Match on CopyObject (test_copy_conditions)")
    store = s3_server.store(server_bucket, flavor="aws", max_attempts=1)
    bodies = [f"source-{i}".encode() * 64 for i in range(8)]
    for i, body in enumerate(bodies):
        store.put(f"src/{i}", body)
    wins: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(len(bodies))

    def copy(i: int) -> None:
        start.wait()
        try:
            store.copy(f"src/{i}", "dst/one", if_absent=True)
            wins.append(i)
        except PreconditionFailedError:
            refused.append(i)

    threads = [threading.Thread(target=copy, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1, (wins, refused)
    assert len(refused) == 7
    assert store.get_bytes("dst/one") == bodies[wins[0]]
    store.close()


def test_batch_delete_and_key_bytes(s3_server: S3Server, server_bucket: str) -> None:
    """Both report a missing key as deleted in a batch (as S3 does) and keep key bytes as
    sent (no NFC, unlike R2)."""
    client = s3_server.client()
    answer = client.delete_objects(
        Bucket=server_bucket, Delete={"Objects": [{"Key": "d/missing"}], "Quiet": False}
    )
    assert [d["Key"] for d in answer["Deleted"]] == ["d/missing"]
    assert not answer.get("Errors")
    nfd = "d/cafe\u0301"
    client.put_object(Bucket=server_bucket, Key=nfd, Body=b"nfd")
    listed = client.list_objects_v2(Bucket=server_bucket, Prefix="d/caf")["Contents"]
    assert [o["Key"] for o in listed] == [nfd]


def test_start_after_a_key_that_prefixes_others(s3_server: S3Server, server_bucket: str) -> None:
    """SeaweedFS 4.48 skips the keys under ``StartAfter`` when it names a folder: after
    ``p/ab`` (a key, and the prefix of ``p/ab/2``) it lists neither ``p/ab/2`` nor anything
    else under ``p/ab/``. moto lists them, as S3 does. ``S3Store.list`` never sends a key as
    ``StartAfter`` (it asks from just before and skips what it has seen), so the contract
    test ``test_list_is_sorted_prefix_filtered_and_resumable`` passes on both."""
    client = s3_server.client()
    for key in ("p/ab", "p/ab/2", "p/ab/2/x", "p/abc"):
        client.put_object(Bucket=server_bucket, Key=key, Body=b"x")

    def after(start: str) -> list[str]:
        answer = client.list_objects_v2(Bucket=server_bucket, Prefix="p/", StartAfter=start)
        return [o["Key"] for o in answer.get("Contents", [])]

    if s3_server.name == "seaweedfs":
        assert after("p/ab") == ["p/abc"]  # p/ab/2 and p/ab/2/x skipped
        assert after("p/ab/2") == ["p/abc"]  # p/ab/2/x skipped
    else:
        assert after("p/ab") == ["p/ab/2", "p/ab/2/x", "p/abc"]
        assert after("p/ab/2") == ["p/ab/2/x", "p/abc"]
    # What S3Store.list sends instead: just before the key, never a folder's name.
    assert after("p/aa\U0010ffff") == ["p/ab", "p/ab/2", "p/ab/2/x", "p/abc"]
    store = s3_server.store(server_bucket)
    assert [i.key for i in store.list("p/", start_after="p/ab")] == ["p/ab/2", "p/ab/2/x", "p/abc"]
    assert [i.key for i in store.list("p/", start_after="p/ab/2")] == ["p/ab/2/x", "p/abc"]
    store.close()
