"""The pre-signed data path through the official clients, against ``serve`` in a child process
on the embedded default and on S3 (moto's server): the SDK's ``pre_sign=True`` reads and writes,
``lakefs_sdk``'s staging and pre-signed multipart calls, and what they refuse.

Every test reads the object bytes the server's lakeFS routes carried (``/metrics``) before and
after: the pre-signed path must move none.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx
import lakefs
import lakefs_sdk
import pytest
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.testing.moto_server import make_bucket, moto_settings
from tests.support.byte_proxy import byte_proxy
from tests.support.dataset_buckets import datasets_bucket
from tests.support.lakefs import KEY_ID, SECRET, unique
from tests.support.lakefs_serve import ServedLakeFS, served_lakefs

BIG = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture(scope="module", params=["embedded", "s3"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedLakeFS]:
    cwd = tmp_path_factory.mktemp(f"presigned-{request.param}")
    env: dict[str, str] = {}
    if request.param == "s3":
        endpoint = str(request.getfixturevalue("s3_endpoint"))
        env = moto_settings(endpoint, make_bucket(endpoint)) | datasets_bucket(endpoint)[1]
    with served_lakefs(cwd, request.param, env) as service:
        yield service


def _namespace(served: ServedLakeFS, name: str) -> str:
    if served.backend == "s3":
        config = served.sdk().config_api.get_config().storage_config
        assert config is not None
        return f"{config.default_namespace_prefix}/{name}"
    return f"local://datasets/{name}"


@pytest.fixture
def repo(served: ServedLakeFS) -> Iterator[lakefs.Repository]:
    name = unique("pre")
    repository = lakefs.repository(name, client=served.client()).create(
        storage_namespace=_namespace(served, name)
    )
    yield repository
    repository.delete()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_storage_config_offers_pre_signing(served: ServedLakeFS) -> None:
    config = served.sdk().config_api.get_config().storage_config
    assert config is not None
    assert config.pre_sign_support is True
    assert config.pre_sign_support_ui is True
    assert config.pre_sign_multipart_upload is (served.backend == "s3")
    assert served.client().storage_config.pre_sign_support is True


def test_sdk_pre_signed_writes_and_reads_move_no_bytes_through_the_server(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    main = repo.branch("main")
    before = served.traffic()

    main.object("tables/big.parquet").upload(
        data=BIG, content_type="application/x-parquet", metadata={"run": "1"}, pre_sign=True
    )
    with main.object("labels/a.json").writer(mode="wb", pre_sign=True) as writer:
        writer.write(b'{"label": ')
        writer.write(b'"dress"}')
    committed = main.commit(message="pre-signed")

    stat = main.object("tables/big.parquet").stat()
    assert (stat.size_bytes, stat.checksum, stat.content_type, stat.metadata) == (
        len(BIG),
        _md5(BIG),
        "application/x-parquet",
        {"run": "1"},
    )
    with main.object("tables/big.parquet").reader(mode="rb", pre_sign=True) as reader:
        assert reader.read() == BIG
    with repo.ref(committed.id).object("tables/big.parquet").reader(pre_sign=True) as reader:
        reader.seek(1024)
        assert reader.read(100) == BIG[1024:1124]
    with main.object("labels/a.json").reader(mode="r", pre_sign=True) as text:
        assert text.read() == '{"label": "dress"}'

    signed = main.object("labels/a.json").stat(pre_sign=True).physical_address
    assert signed.startswith("http")
    assert httpx.get(signed, timeout=30).content == b'{"label": "dress"}'

    assert served.traffic() == before  # not one object byte in or out through our API

    # The counter is live: the same SDK without pre-signing goes through the API.
    main.object("direct.bin").upload(data=b"0123456789", pre_sign=False)
    with main.object("direct.bin").reader(mode="rb", pre_sign=False) as reader:
        assert reader.read() == b"0123456789"
    after = served.traffic()
    assert after.received - before.received == 10
    assert after.sent - before.sent == 10


def test_a_counting_proxy_in_front_of_the_api_sees_no_object_bytes(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    """Independent of the server's counters: every API byte passes a proxy that counts them."""
    host, port = served.base.removeprefix("http://").split(":")
    with byte_proxy(host, int(port)) as proxy:
        client = lakefs.Client(host=f"{proxy.url}/lakefs/api/v1", username=KEY_ID, password=SECRET)
        branch = lakefs.repository(repo.id, client=client).branch("main")
        branch.object("via/proxy.bin").upload(data=BIG, pre_sign=True)
        with branch.object("via/proxy.bin").reader(mode="rb", pre_sign=True) as reader:
            assert reader.read() == BIG
        presigned = proxy.total
        with branch.object("via/proxy.bin").reader(mode="rb", pre_sign=False) as reader:
            assert reader.read() == BIG
        direct = proxy.total - presigned
    assert presigned < 64 * 1024  # JSON and headers only; the object is 3 MiB
    assert direct > len(BIG)  # the same read without pre-signing carries the object


def test_lakefs_sdk_staging_calls_and_presigned_listing(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    sdk = served.sdk()
    before = served.traffic()
    location = sdk.staging_api.get_physical_address(repo.id, "main", "raw/x.csv", presign=True)
    assert location.physical_address is not None
    assert location.physical_address.startswith(_namespace(served, repo.id) + "/data/")
    assert location.presigned_url is not None
    assert location.presigned_url_expiry is not None
    put = httpx.put(location.presigned_url, content=b"a,b\n1,2\n", timeout=30)
    assert put.status_code == 200, put.text
    linked = sdk.staging_api.link_physical_address(
        repo.id,
        "main",
        "raw/x.csv",
        lakefs_sdk.StagingMetadata(
            staging=location,
            checksum=put.headers["ETag"],
            size_bytes=8,
            content_type="text/csv",
            user_metadata={"source": "sensor"},
        ),
    )
    assert (linked.path, linked.size_bytes, linked.checksum) == (
        "raw/x.csv",
        8,
        _md5(b"a,b\n1,2\n"),
    )
    assert linked.physical_address == location.physical_address

    listing = sdk.objects_api.list_objects(repo.id, "main", presign=True)
    [entry] = listing.results
    assert entry.physical_address_expiry is not None
    assert httpx.get(entry.physical_address, timeout=30).content == b"a,b\n1,2\n"
    with served.http() as http:
        redirect = http.get(
            f"/repositories/{repo.id}/refs/main/objects",
            params={"path": "raw/x.csv", "presign": "true"},
        )
    assert redirect.status_code == 302
    assert httpx.get(redirect.headers["Location"], timeout=30).content == b"a,b\n1,2\n"
    assert served.traffic() == before


def _staged(served: ServedLakeFS, repo: str, path: str, data: bytes) -> tuple[str, str]:
    """An address issued for ``path`` with ``data`` uploaded there: (physical address, ETag)."""
    with served.http() as http:
        answer = http.get(
            f"/repositories/{repo}/branches/main/staging/backing",
            params={"path": path, "presign": "true"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    put = httpx.put(body["presigned_url"], content=data, timeout=30)
    assert put.status_code == 200, put.text
    return body["physical_address"], put.headers["ETag"]


def _link(
    served: ServedLakeFS, repo: str, path: str, physical: str, checksum: str, size: int
) -> httpx.Response:
    with served.http() as http:
        return http.put(
            f"/repositories/{repo}/branches/main/staging/backing",
            params={"path": path},
            json={
                "staging": {"physical_address": physical},
                "checksum": checksum,
                "size_bytes": size,
            },
        )


def test_links_that_do_not_match_what_we_issued_or_what_was_uploaded_are_refused(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    physical, etag = _staged(served, repo.id, "x.bin", b"payload")
    namespace = _namespace(served, repo.id)
    refusals = [
        ("x.bin", physical, _md5(b"other"), 7, "does not match the uploaded object's ETag"),
        ("x.bin", physical, etag, 8, "size_bytes 8 does not match"),
        ("y.bin", physical, etag, 7, "link address invalid"),
        ("x.bin", physical.rsplit(",", 1)[0], etag, 7, "address is not signed"),
        ("x.bin", physical[:-3] + "xyz", etag, 7, "invalid address signature"),
        ("x.bin", f"{namespace}/data/ab/{'0' * 64}", etag, 7, "address is not signed"),
        ("x.bin", "s3://someone-else/data/x", etag, 7, "relative to the storage namespace"),
        ("x.bin", physical, "", 7, "checksum is required"),
    ]
    for path, address, checksum, size, words in refusals:
        answer = _link(served, repo.id, path, address, checksum, size)
        assert answer.status_code == 400, (words, answer.text)
        assert words in answer.json()["message"]
    assert list(repo.branch("main").uncommitted()) == []

    not_yet = served.sdk().staging_api.get_physical_address(repo.id, "main", "z.bin")
    assert not_yet.presigned_url is None
    assert not_yet.physical_address is not None
    answer = _link(served, repo.id, "z.bin", not_yet.physical_address, etag, 7)
    assert answer.status_code == 400
    assert "nothing was uploaded" in answer.json()["message"]

    assert _link(served, repo.id, "x.bin", physical, etag, 7).status_code == 200
    with served.http() as http:
        again = http.put(
            f"/repositories/{repo.id}/branches/main/staging/backing",
            params={"path": "x.bin"},
            headers={"If-None-Match": "*"},
            json={"staging": {"physical_address": physical}, "checksum": etag, "size_bytes": 7},
        )
    assert again.status_code == 412


def test_protected_branch_and_read_only_repository_refuse_the_pre_signed_path(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    sdk = served.sdk()
    physical, etag = _staged(served, repo.id, "p.bin", b"payload")
    sdk.repositories_api.set_branch_protection_rules(
        repo.id, [lakefs_sdk.BranchProtectionRule(pattern="main")]
    )
    refused = _link(served, repo.id, "p.bin", physical, etag, 7)
    assert refused.status_code == 403
    assert "cannot write to protected branch" in refused.json()["message"]
    with pytest.raises(lakefs_sdk.exceptions.ForbiddenException):
        repo.branch("main").object("q.bin").upload(data=b"q", pre_sign=True)

    frozen = unique("ro")
    with served.http() as http:
        made = http.post(
            "/repositories",
            json={
                "name": frozen,
                "storage_namespace": _namespace(served, frozen),
                "read_only": True,
            },
        )
        assert made.status_code == 201, made.text
        answer = http.get(
            f"/repositories/{frozen}/branches/main/staging/backing",
            params={"path": "a", "presign": "true"},
        )
        assert answer.status_code == 403
        assert "read-only repository" in answer.json()["message"]
        http.delete(f"/repositories/{frozen}")


def test_pre_signed_multipart_upload(served: ServedLakeFS, repo: lakefs.Repository) -> None:
    sdk = served.sdk()
    if served.backend != "s3":
        with pytest.raises(ApiException) as refused:
            sdk.experimental_api.create_presign_multipart_upload(repo.id, "main", "big", parts=2)
        assert refused.value.status == 501
        return
    parts = [os.urandom(5 * 1024 * 1024), b"the last part"]
    before = served.traffic()
    started = sdk.experimental_api.create_presign_multipart_upload(
        repo.id, "main", "big.bin", parts=len(parts)
    )
    assert started.presigned_urls is not None
    etags = [
        httpx.put(url, content=data, timeout=60).headers["ETag"]
        for url, data in zip(started.presigned_urls, parts, strict=True)
    ]
    stats = sdk.experimental_api.complete_presign_multipart_upload(
        repo.id,
        "main",
        started.upload_id,
        "big.bin",
        lakefs_sdk.CompletePresignMultipartUpload(
            physical_address=started.physical_address,
            parts=[lakefs_sdk.UploadPart(part_number=n, etag=e) for n, e in enumerate(etags, 1)],
            content_type="application/octet-stream",
            user_metadata={"parts": "2"},
        ),
    )
    assert stats.size_bytes == sum(len(p) for p in parts)
    assert stats.checksum.endswith("-2")
    with repo.branch("main").object("big.bin").reader(pre_sign=True) as reader:
        assert reader.read() == b"".join(parts)
    assert served.traffic() == before

    dropped = sdk.experimental_api.create_presign_multipart_upload(repo.id, "main", "gone.bin")
    assert dropped.presigned_urls is None
    sdk.experimental_api.abort_presign_multipart_upload(
        repo.id,
        "main",
        dropped.upload_id,
        "gone.bin",
        lakefs_sdk.AbortPresignMultipartUpload(physical_address=dropped.physical_address),
    )
    with pytest.raises(ApiException) as forged:
        sdk.experimental_api.abort_presign_multipart_upload(
            repo.id,
            "main",
            dropped.upload_id,
            "other.bin",
            lakefs_sdk.AbortPresignMultipartUpload(physical_address=dropped.physical_address),
        )
    assert forged.value.status == 400
    with pytest.raises(ApiException) as too_many:
        sdk.experimental_api.create_presign_multipart_upload(repo.id, "main", "x.bin", parts=10_001)
    assert too_many.value.status == 400
    assert [o.path for o in repo.branch("main").objects()] == ["big.bin"]


def test_upload_preflight_answers_as_lakefs(served: ServedLakeFS, repo: lakefs.Repository) -> None:
    served.sdk().internal_api.upload_object_preflight(repo.id, "main", "any/path.bin")
    with served.http() as http:
        answer = http.get(
            f"/repositories/{repo.id}/branches/main/objects/stage_allowed", params={"path": "a"}
        )
    assert (answer.status_code, answer.content) == (204, b"")
    anonymous = httpx.get(
        f"{served.lakefs}/repositories/{repo.id}/branches/main/objects/stage_allowed",
        params={"path": "a"},
    )
    assert anonymous.status_code == 401


def test_presigned_urls_need_no_credentials_but_the_api_does(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    repo.branch("main").object("a.txt").upload(data=b"a", pre_sign=True)
    anonymous = httpx.get(
        f"{served.lakefs}/repositories/{repo.id}/branches/main/staging/backing",
        params={"path": "b.txt", "presign": "true"},
    )
    assert anonymous.status_code == 401


def test_an_embedded_pre_signed_put_url_cannot_overwrite_what_was_linked(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    """The embedded store's dataset PUT URLs are create-only (the URL says so, the service
    checks it): reusing one after the link and the commit must not change committed bytes.
    On S3 the URL cannot say it (the client would have to send ``If-None-Match``)."""
    if served.backend != "embedded":
        pytest.skip("S3's presigned PUTs are create-only only if the client asks")
    sdk = served.sdk()
    location = sdk.staging_api.get_physical_address(repo.id, "main", "labels.csv", presign=True)
    assert location.presigned_url is not None
    put = httpx.put(location.presigned_url, content=b"v1", timeout=30)
    assert put.status_code == 200, put.text
    sdk.staging_api.link_physical_address(
        repo.id,
        "main",
        "labels.csv",
        lakefs_sdk.StagingMetadata(staging=location, checksum=put.headers["ETag"], size_bytes=2),
    )
    main = repo.branch("main")
    main.commit(message="labels")

    again = httpx.put(location.presigned_url, content=b"v2!", timeout=30)
    assert again.status_code == 412, again.text
    assert main.object("labels.csv").reader().read() == b"v1"
    assert main.object("labels.csv").reader(pre_sign=True).read() == b"v1"


def test_physical_addresses_are_full_uris_in_the_namespace_as_lakefs_answers(
    served: ServedLakeFS, repo: lakefs.Repository
) -> None:
    """lakeFS answers ``physical_address`` qualified (``s3://bucket/ns/data/…``,
    ``local://ns/data/…``), what its Hadoop client reads straight from the store; the link
    answers the same address as a later stat of the object."""
    sdk = served.sdk()
    namespace = _namespace(served, repo.id)
    uploaded = sdk.objects_api.upload_object(repo.id, "main", "direct.csv", content=b"a,b\n")
    location = sdk.staging_api.get_physical_address(repo.id, "main", "linked.csv", presign=True)
    assert location.presigned_url is not None
    put = httpx.put(location.presigned_url, content=b"c,d\n", timeout=30)
    linked = sdk.staging_api.link_physical_address(
        repo.id,
        "main",
        "linked.csv",
        lakefs_sdk.StagingMetadata(staging=location, checksum=put.headers["ETag"], size_bytes=4),
    )
    copied = sdk.objects_api.copy_object(
        repo.id, "main", "copy.csv", lakefs_sdk.ObjectCopyCreation(src_path="direct.csv")
    )
    stats = {
        s.path: s.physical_address for s in sdk.objects_api.list_objects(repo.id, "main").results
    }
    assert stats["linked.csv"] == linked.physical_address == location.physical_address
    assert stats["direct.csv"] == uploaded.physical_address == copied.physical_address
    assert sdk.objects_api.stat_object(repo.id, "main", "direct.csv").physical_address == (
        uploaded.physical_address
    )
    for address in stats.values():
        assert address.startswith(f"{namespace}/data/"), address
