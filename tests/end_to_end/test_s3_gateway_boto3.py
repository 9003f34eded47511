"""The S3 gateway over real HTTP against ``serve``, driven by boto3: every operation the
issue names, and S3's error codes."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.lakefs import KEY_ID, SECRET, unique
from tests.support.s3_gateway import Gateway, running_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as served:
        yield served


@pytest.fixture
def repo(gateway: Gateway) -> str:
    name = unique("gw")
    gateway.create_repository(name)
    return name


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_get_head_list_delete(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    assert repo in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(
        Bucket=repo,
        Key="main/images/a.png",
        Body=b"png-bytes",
        ContentType="image/png",
        Metadata={"shot": "42"},
    )
    got = s3.get_object(Bucket=repo, Key="main/images/a.png")
    assert got["Body"].read() == b"png-bytes"
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"shot": "42"}
    assert got["ETag"] == f'"{hashlib.md5(b"png-bytes").hexdigest()}"'
    head = s3.head_object(Bucket=repo, Key="main/images/a.png")
    assert head["ContentLength"] == 9
    listed = s3.list_objects_v2(Bucket=repo, Prefix="main/")
    assert [o["Key"] for o in listed["Contents"]] == ["main/images/a.png"]
    s3.delete_object(Bucket=repo, Key="main/images/a.png")
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=repo, Key="main/images/a.png")
    assert _code(missing) == "NoSuchKey"
    s3.delete_object(Bucket=repo, Key="main/images/a.png")  # idempotent, as S3


def test_top_level_lists_branches(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    gateway.lakefs_call(
        "POST", f"/repositories/{repo}/branches", json={"name": "dev", "source": "main"}
    )
    listed = s3.list_objects_v2(Bucket=repo, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dev/", "main/"]
    v1 = s3.list_objects(Bucket=repo, Delimiter="/", Prefix="ma")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["main/"]


def test_listing_pages_with_prefix_delimiter_and_tokens(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    keys = [f"main/d{i % 3}/f{i:02d}" for i in range(12)] + ["main/top.txt"]
    for key in keys:
        s3.put_object(Bucket=repo, Key=key, Body=key.encode())
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=repo, Prefix="main/", MaxKeys=5, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    folders = s3.list_objects_v2(Bucket=repo, Prefix="main/", Delimiter="/")
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["main/d0/", "main/d1/", "main/d2/"]
    assert [o["Key"] for o in folders["Contents"]] == ["main/top.txt"]
    after = s3.list_objects_v2(Bucket=repo, Prefix="main/d1/", StartAfter="main/d1/f04")
    assert [o["Key"] for o in after["Contents"]] == ["main/d1/f07", "main/d1/f10"]
    v1, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=repo, Prefix="main/d0/", MaxKeys=2, Marker=marker)
        v1 += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or v1[-1]
    assert v1 == ["main/d0/f00", "main/d0/f03", "main/d0/f06", "main/d0/f09"]
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=repo, Prefix="main/", PaginationConfig={"PageSize": 4})
    assert sum(len(p.get("Contents", [])) for p in pages) == 13


def test_ranges_and_conditions(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    body = bytes(range(256)) * 4
    put = s3.put_object(Bucket=repo, Key="main/blob", Body=body)
    etag = put["ETag"]
    assert (
        s3.get_object(Bucket=repo, Key="main/blob", Range="bytes=10-19")["Body"].read()
        == (body[10:20])
    )
    assert (
        s3.get_object(Bucket=repo, Key="main/blob", Range="bytes=-5")["Body"].read() == (body[-5:])
    )
    ranged = s3.get_object(Bucket=repo, Key="main/blob", Range="bytes=1000-")
    assert ranged["ContentRange"] == "bytes 1000-1023/1024"
    head = s3.head_object(Bucket=repo, Key="main/blob", Range="bytes=10-19")  # as S3: 206
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert (head["ContentLength"], head["ContentRange"]) == (10, "bytes 10-19/1024")
    with pytest.raises(ClientError) as bad_head:
        s3.head_object(Bucket=repo, Key="main/blob", Range="bytes=5000-")
    assert bad_head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(ClientError) as bad_range:
        s3.get_object(Bucket=repo, Key="main/blob", Range="bytes=5000-")
    assert _code(bad_range) == "InvalidRange"
    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=repo, Key="main/blob", IfNoneMatch=etag)
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=repo, Key="main/blob", IfMatch='"nope"')
    assert _code(failed) == "PreconditionFailed"
    assert s3.get_object(Bucket=repo, Key="main/blob", IfMatch=etag)["ContentLength"] == 1024
    with pytest.raises(ClientError) as taken:
        s3.put_object(Bucket=repo, Key="main/blob", Body=b"x", IfNoneMatch="*")
    assert _code(taken) == "PreconditionFailed"


def test_reads_during_overwrites_and_commits_pair_headers_with_bytes(
    gateway: Gateway, repo: str
) -> None:
    """Each GET looks the object up once and reads that entry's own bytes: while another
    client overwrites the object (a streamed and a small version in turn) and commits, every
    answer's body has its Content-Length and ETag (the MD5 of a single PUT)."""
    versions = [os.urandom(1536 * 1024), os.urandom(3000)]
    writer, reader = gateway.client(), gateway.client()
    writer.put_object(Bucket=repo, Key="main/moving", Body=versions[0])
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for turn in itertools.count():
                if stop.is_set():
                    return
                writer.put_object(Bucket=repo, Key="main/moving", Body=versions[turn % 2])
                if turn % 3 == 2:
                    gateway.commit(repo, "main", f"turn {turn}")
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(40):
            got = reader.get_object(Bucket=repo, Key="main/moving")
            body = got["Body"].read()
            assert len(body) == got["ContentLength"]
            assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
            assert body in versions
    finally:
        stop.set()
        thread.join()
    assert not failures, failures


def test_copy_within_and_across_refs_and_repositories(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    s3.put_object(Bucket=repo, Key="main/src.txt", Body=b"source", Metadata={"k": "v"})
    commit = gateway.commit(repo, "main", "one")
    s3.copy_object(Bucket=repo, Key="main/copy.txt", CopySource=f"{repo}/main/src.txt")
    assert s3.get_object(Bucket=repo, Key="main/copy.txt")["Metadata"] == {"k": "v"}
    gateway.lakefs_call(
        "POST", f"/repositories/{repo}/branches", json={"name": "feature", "source": "main"}
    )
    s3.copy_object(
        Bucket=repo, Key="feature/from-commit.txt", CopySource=f"/{repo}/{commit}/src.txt"
    )
    assert s3.get_object(Bucket=repo, Key="feature/from-commit.txt")["Body"].read() == b"source"
    other = unique("gw")
    gateway.create_repository(other)
    s3.copy_object(
        Bucket=other,
        Key="main/replaced.txt",
        CopySource={"Bucket": repo, "Key": "main/src.txt"},
        MetadataDirective="REPLACE",
        Metadata={"new": "1"},
        ContentType="text/plain",
    )
    head = s3.head_object(Bucket=other, Key="main/replaced.txt")
    assert head["Metadata"] == {"new": "1"}
    assert head["ContentType"] == "text/plain"
    assert s3.get_object(Bucket=other, Key="main/replaced.txt")["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as missing:
        s3.copy_object(Bucket=repo, Key="main/x", CopySource=f"{repo}/main/nothing")
    assert _code(missing) == "NoSuchKey"


def test_delete_objects(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=repo, Key=f"main/{name}", Body=name.encode())
    result = s3.delete_objects(
        Bucket=repo,
        Delete={"Objects": [{"Key": "main/a"}, {"Key": "main/b"}, {"Key": "main/missing"}]},
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["main/a", "main/b", "main/missing"]
    left = s3.list_objects_v2(Bucket=repo, Prefix="main/")
    assert [o["Key"] for o in left["Contents"]] == ["main/c"]


def test_delete_objects_in_a_repository_that_does_not_exist(gateway: Gateway) -> None:
    """A typo in the bucket is NoSuchBucket for the whole request, as S3's (not a 200 whose
    every key says its ref "is not a branch")."""
    s3 = gateway.client()
    with pytest.raises(ClientError) as missing:
        s3.delete_objects(Bucket=unique("nope"), Delete={"Objects": [{"Key": "main/a"}]})
    assert _code(missing) == "NoSuchBucket"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_multipart_upload(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    part_size = 5 * 1024 * 1024
    parts_data = [os.urandom(part_size), os.urandom(part_size), b"tail"]
    upload = s3.create_multipart_upload(
        Bucket=repo, Key="main/big.bin", ContentType="application/x-big", Metadata={"m": "1"}
    )
    upload_id = upload["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket=repo)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("main/big.bin", upload_id)]
    etags = []
    for number, data in enumerate(parts_data, start=1):
        part = s3.upload_part(
            Bucket=repo, Key="main/big.bin", UploadId=upload_id, PartNumber=number, Body=data
        )
        etags.append(part["ETag"])
    listed = s3.list_parts(Bucket=repo, Key="main/big.bin", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [part_size, part_size, 4]
    with pytest.raises(ClientError) as bad_order:
        s3.complete_multipart_upload(
            Bucket=repo,
            Key="main/big.bin",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]
            },
        )
    assert _code(bad_order) == "InvalidPartOrder"
    s3.complete_multipart_upload(
        Bucket=repo,
        Key="main/big.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
        },
    )
    got = s3.get_object(Bucket=repo, Key="main/big.bin")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ContentType"] == "application/x-big"
    assert got["Metadata"] == {"m": "1"}
    assert s3.list_multipart_uploads(Bucket=repo).get("Uploads", []) == []
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=repo, Key="main/big.bin", UploadId=upload_id)
    assert _code(gone) == "NoSuchUpload"
    aborted = s3.create_multipart_upload(Bucket=repo, Key="main/never.bin")["UploadId"]
    s3.upload_part(Bucket=repo, Key="main/never.bin", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=repo, Key="main/never.bin", UploadId=aborted)
    with pytest.raises(ClientError) as absent:
        s3.head_object(Bucket=repo, Key="main/never.bin")
    assert absent.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_upload_file_and_download_file_use_multipart(
    gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    from boto3.s3.transfer import TransferConfig

    s3 = gateway.client()
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    s3.upload_file(str(source), repo, "main/transfer.bin", Config=config)
    target = tmp_path / "target.bin"
    s3.download_file(repo, "main/transfer.bin", str(target), Config=config)
    assert target.read_bytes() == source.read_bytes()


def test_writes_to_tags_commits_and_protected_branches_are_refused(
    gateway: Gateway, repo: str
) -> None:
    s3 = gateway.client()
    s3.put_object(Bucket=repo, Key="main/file", Body=b"1")
    commit = gateway.commit(repo, "main", "c")
    gateway.lakefs_call("POST", f"/repositories/{repo}/tags", json={"id": "v1", "ref": commit})
    assert s3.get_object(Bucket=repo, Key="v1/file")["Body"].read() == b"1"
    assert s3.get_object(Bucket=repo, Key=f"{commit}/file")["Body"].read() == b"1"
    for ref in ("v1", commit):
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=repo, Key=f"{ref}/file", Body=b"2")
        assert _code(refused) == "NoSuchBucket"
        with pytest.raises(ClientError) as refused_delete:
            s3.delete_object(Bucket=repo, Key=f"{ref}/file")
        assert _code(refused_delete) == "NoSuchBucket"
    reply = gateway.lakefs_call(
        "PUT",
        f"/repositories/{repo}/settings/branch_protection",
        json=[{"pattern": "main"}],
        headers={"If-Match": '""'},
    )
    assert reply.status_code == 204, reply.text
    with pytest.raises(ClientError) as protected:
        s3.put_object(Bucket=repo, Key="main/file", Body=b"2")
    assert _code(protected) == "ErrWriteToProtectedBranch"
    with pytest.raises(ClientError) as protected_mpu:
        s3.create_multipart_upload(Bucket=repo, Key="main/mpu")
    assert _code(protected_mpu) == "ErrWriteToProtectedBranch"


def test_errors_are_s3_codes(gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    with pytest.raises(ClientError) as no_bucket:
        s3.get_object(Bucket="no-such-repo", Key="main/x")
    assert _code(no_bucket) == "NoSuchBucket"
    with pytest.raises(ClientError) as no_bucket_list:
        s3.list_objects_v2(Bucket="no-such-repo", Prefix="main/")
    assert _code(no_bucket_list) == "NoSuchBucket"
    with pytest.raises(ClientError) as no_key:
        s3.get_object(Bucket=repo, Key="main/nothing")
    assert _code(no_key) == "NoSuchKey"
    with pytest.raises(ClientError) as bad_signature:
        gateway.client(secret="wrong").list_buckets()
    assert _code(bad_signature) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as bad_key:
        gateway.client(key="AKIAUNKNOWN").list_buckets()
    assert _code(bad_key) == "InvalidAccessKeyId"
    import httpx

    anonymous = httpx.get(f"{gateway.endpoint}/{repo}?list-type=2", timeout=10)
    assert anonymous.status_code == 403
    assert "<Code>AccessDenied</Code>" in anonymous.text


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_urls(gateway: Gateway, repo: str, version: str) -> None:
    """boto3 presigns with Signature V2 unless told s3v4; both are accepted."""
    import httpx

    s3 = gateway.client(signature_version=version)
    s3.put_object(Bucket=repo, Key="main/shared.txt", Body=b"shared")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/shared.txt"}, ExpiresIn=60
    )
    assert httpx.get(url, timeout=10).content == b"shared"
    tampered = url.replace("shared.txt", "other.txt")
    assert httpx.get(tampered, timeout=10).status_code == 403
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": repo, "Key": "main/uploaded.txt"}, ExpiresIn=60
    )
    assert httpx.put(put_url, content=b"via url", timeout=10).status_code == 200
    assert s3.get_object(Bucket=repo, Key="main/uploaded.txt")["Body"].read() == b"via url"
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/shared.txt"}, ExpiresIn=0
    )
    import time

    time.sleep(1.1)
    reply = httpx.get(expired, timeout=10)
    assert reply.status_code == 403
    assert "expired" in reply.text


def _v2_signed(path: str, date: str | None) -> dict[str, str]:
    """Signature V2 headers of a GET of ``path`` signed at ``date`` (its ``Date``; None: no
    date at all), as a captured request carries them: S3's string to sign, HMAC-SHA1."""
    import base64
    import hmac

    text = f"GET\n\n\n{date or ''}\n{path}"
    signature = base64.b64encode(hmac.new(SECRET.encode(), text.encode(), "sha1").digest())
    signed = {"Authorization": f"AWS {KEY_ID}:{signature.decode()}"}
    return signed if date is None else signed | {"Date": date}


def test_v2_signed_requests_expire_and_bad_signatures_are_refused(
    gateway: Gateway, repo: str
) -> None:
    """A V2 header signature holds for 15 minutes around its ``Date``, as S3 holds it: a
    captured request was good forever (a year-old ``Date``, or none at all), and a signature
    that is not base64 was a 500."""
    import time
    from email.utils import formatdate

    import httpx

    gateway.client().put_object(Bucket=repo, Key="main/v2.txt", Body=b"v2")
    path = f"/{repo}/main/v2.txt"
    url = gateway.endpoint + path
    fresh = httpx.get(url, headers=_v2_signed(path, formatdate(usegmt=True)))
    assert fresh.status_code == 200, fresh.text
    assert fresh.content == b"v2"
    year_old = formatdate(time.time() - 365 * 86400, usegmt=True)
    replayed = httpx.get(url, headers=_v2_signed(path, year_old))
    assert replayed.status_code == 403, replayed.text
    assert "<Code>RequestTimeTooSkewed</Code>" in replayed.text
    undated = httpx.get(url, headers=_v2_signed(path, None))
    assert undated.status_code == 403, undated.text
    assert "<Code>AccessDenied</Code>" in undated.text
    for signature in ("a", "%zz"):
        for headers, params in (
            ({"Authorization": f"AWS {KEY_ID}:{signature}", "Date": formatdate(usegmt=True)}, {}),
            ({}, {"AWSAccessKeyId": KEY_ID, "Signature": signature, "Expires": "9999999999"}),
        ):
            bad = httpx.get(url, headers=headers, params=params, timeout=10)
            assert bad.status_code == 403, (signature, bad.text)
            assert "<Code>SignatureDoesNotMatch</Code>" in bad.text


def test_keys_made_through_the_lakefs_api_sign_gateway_requests(
    gateway: Gateway, repo: str
) -> None:
    """A user and key pair created with the lakeFS auth API (as `lakectl` does) work on the
    gateway at once; deleted, the key is refused as S3 refuses an unknown one."""
    user = unique("gwuser")
    assert gateway.lakefs_call("POST", "/auth/users", json={"id": user}).status_code == 201
    made = gateway.lakefs_call("POST", f"/auth/users/{user}/credentials")
    assert made.status_code == 201, made.text
    pair = made.json()
    client = gateway.client(key=pair["access_key_id"], secret=pair["secret_access_key"])
    client.put_object(Bucket=repo, Key="main/by-user.txt", Body=b"signed by a stored key")
    got = client.get_object(Bucket=repo, Key="main/by-user.txt")["Body"].read()
    assert got == b"signed by a stored key"
    wrong = gateway.client(key=pair["access_key_id"], secret="not-the-secret-" + "x" * 25)
    with pytest.raises(ClientError) as refused:
        wrong.list_objects_v2(Bucket=repo, Prefix="main/")
    assert _code(refused) == "SignatureDoesNotMatch"
    deleted = gateway.lakefs_call(
        "DELETE", f"/auth/users/{user}/credentials/{pair['access_key_id']}"
    )
    assert deleted.status_code == 204, deleted.text
    with pytest.raises(ClientError) as gone:
        client.list_objects_v2(Bucket=repo, Prefix="main/")
    assert _code(gone) == "InvalidAccessKeyId"


def test_odd_numbers_get_s3_answers_not_a_500(gateway: Gateway, repo: str) -> None:
    """Numbers of thousands of digits in a Range, or digits ``int`` refuses (``²``) and
    thousands of digits in a multipart query: S3's answers (a range clamped or InvalidRange;
    InvalidArgument), where ``str.isdigit`` then ``int`` made them a 500."""
    s3 = gateway.client(retries={"max_attempts": 1})
    body = bytes(range(256))
    s3.put_object(Bucket=repo, Key="main/numbers", Body=body)
    huge = "9" * 5000
    clamped = s3.get_object(Bucket=repo, Key="main/numbers", Range=f"bytes=0-{huge}")
    assert clamped["Body"].read() == body
    with pytest.raises(ClientError) as past:
        s3.get_object(Bucket=repo, Key="main/numbers", Range=f"bytes={huge}-")
    assert _code(past) == "InvalidRange"

    upload = s3.create_multipart_upload(Bucket=repo, Key="main/parts")["UploadId"]
    where = {"Bucket": repo, "Key": "main/parts", "UploadId": upload}
    for operation, method, kwargs, field, odd in (
        ("UploadPart", "upload_part", {"PartNumber": 1, "Body": b"x"}, "partNumber=1", "%C2%B2"),
        ("ListParts", "list_parts", {"PartNumberMarker": 1}, "marker=1", "1" * 5000),
    ):
        client = gateway.client(retries={"max_attempts": 1})

        def swap(request: Any, field: str = field, odd: str = odd, **_: Any) -> None:
            # Before signing: the odd number goes with a valid signature.
            name = field.partition("=")[0]
            request.url = request.url.replace(field, f"{name}={odd}")

        client.meta.events.register(f"before-sign.s3.{operation}", swap)
        with pytest.raises(ClientError) as refused:
            getattr(client, method)(**where, **kwargs)
        assert _code(refused) == "InvalidArgument", refused.value.response


def test_start_after_outside_the_ref_compares_as_s3_does(gateway: Gateway, repo: str) -> None:
    """A start-after before the prefix lists from its start, one past it lists nothing
    (S3 compares keys), rather than a 400."""
    s3 = gateway.client()
    s3.put_object(Bucket=repo, Key="main/a.txt", Body=b"a")
    before = s3.list_objects_v2(Bucket=repo, Prefix="main/", StartAfter="dev/z")
    assert [o["Key"] for o in before["Contents"]] == ["main/a.txt"]
    past = s3.list_objects_v2(Bucket=repo, Prefix="main/", StartAfter="zzz")
    assert past["KeyCount"] == 0
    assert "Contents" not in past
    v1 = s3.list_objects(Bucket=repo, Prefix="main/", Marker="main0")
    assert "Contents" not in v1
    assert not v1["IsTruncated"]


def test_put_with_if_none_match_other_than_star_is_not_implemented(
    gateway: Gateway, repo: str
) -> None:
    """S3 takes only ``If-None-Match: *`` on PutObject; an ETag there is 501, never a write
    that ignores the condition."""
    s3 = gateway.client()
    etag = s3.put_object(Bucket=repo, Key="main/kept.txt", Body=b"kept")["ETag"]
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=repo, Key="main/kept.txt", Body=b"other", IfNoneMatch=etag)
    assert _code(refused) == "NotImplemented"
    assert s3.get_object(Bucket=repo, Key="main/kept.txt")["Body"].read() == b"kept"


def test_a_refused_write_leaves_the_connection_usable(gateway: Gateway, repo: str) -> None:
    """boto3 sends small bodies with ``Expect: 100-continue``; refused before the body is
    read, it keeps the connection without sending the body. The next request on it must
    not lose its first bytes to the refused one's declared length (it came back as
    ``SignatureDoesNotMatch``, about one time in five)."""
    s3 = gateway.client(retries={"max_attempts": 1})
    tag = gateway.lakefs_call(
        "POST", f"/repositories/{repo}/tags", json={"id": "v1", "ref": "main"}
    )
    assert tag.status_code == 201, tag.text
    for _ in range(150):
        with pytest.raises(ClientError) as missing:
            s3.upload_part(
                Bucket=repo, Key="main/a.bin", UploadId="nope", PartNumber=2, Body=b"abc"
            )
        assert _code(missing) == "NoSuchUpload"
        s3.create_multipart_upload(Bucket=repo, Key="main/a.bin")
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=repo, Key="v1/a.bin", Body=b"abc")
        assert _code(refused) == "NoSuchBucket"
        s3.head_bucket(Bucket=repo)
