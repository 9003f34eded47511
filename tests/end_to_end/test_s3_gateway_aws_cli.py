"""The AWS CLI on the S3 gateway, over real HTTP against ``serve``, on the embedded default and
on moto's S3 server (datasets in a bucket of their own): ``aws s3 cp`` both ways (multipart
above the threshold), ``ls``, ``sync`` both ways and again with nothing to do, ``rm``,
``s3api head-object`` and ranged ``get-object``, a lakeFS commit then read at its id, and the
errors users meet (a wrong secret, a write to a tag or a commit).

The CLI runs from its own venv (``tests/support/aws_cli.py``): one ``aws`` process per
command, about half a second each, so the commands are few and one server serves a backend.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import lakefs
import pytest

from tests.support.aws_cli import MULTIPART, AwsCli, aws_executable
from tests.support.lakefs import KEY_ID, SECRET, unique
from tests.support.s3_gateway import Gateway, on_s3, running_gateway

NAMES = {
    "looks/front.txt": b"front view",
    "looks/back view.txt": b"back view",
    "looks/detail/ü+%&=.txt": b"unicode and reserved characters",
    "labels.csv": b"sku,label\na-1,shirt\n",
}
"""A small tree for sync, with the key characters that URL-encoded listings must carry."""


@pytest.fixture(scope="module")
def aws_path() -> Path:
    return aws_executable()


@pytest.fixture(scope="module", params=["embedded", "moto"])
def gateway(
    request: pytest.FixtureRequest, aws_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    env, namespaces = None, "local://datasets"
    if request.param == "moto":
        env, namespaces = on_s3(request.getfixturevalue("moto_endpoint"))
    with running_gateway(tmp_path_factory.mktemp("aws-cli"), env, namespaces) as served:
        yield served


@pytest.fixture(scope="module")
def aws(gateway: Gateway, aws_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return AwsCli(aws_path, tmp_path_factory.mktemp("aws-home"), gateway.endpoint)


@pytest.fixture
def repo(gateway: Gateway) -> str:
    name = unique("cli")
    gateway.create_repository(name)
    return name


def _lines(text: str) -> list[str]:
    """The CLI's result lines (its progress lines, ``Completed …``, left out)."""
    return [line for line in text.splitlines() if line and not line.startswith("Completed ")]


def _listed_keys(text: str) -> list[str]:
    """The keys of ``aws s3 ls --recursive`` (date, time, size, key: keys may hold spaces)."""
    return [line.split(maxsplit=3)[3] for line in _lines(text)]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    """The files, last modified an hour ago: S3's LastModified has whole seconds, so a file
    written in the second of its upload would look newer than its copy to ``sync``."""
    an_hour_ago = time.time() - 3600
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        os.utime(root / name, (an_hour_ago, an_hour_ago))


def test_cp_up_and_down_above_the_multipart_threshold(
    aws: AwsCli, gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * MULTIPART + 12345))  # three parts
    up = aws.run(
        "--debug",
        "s3",
        "cp",
        str(big),
        f"s3://{repo}/main/data/big.bin",
        "--content-type",
        "application/x-big",
        "--metadata",
        "shot=42",
    )
    calls = up.stderr.count
    assert calls("OperationModel(name=CreateMultipartUpload)") == 1, "not a multipart upload"
    assert calls("OperationModel(name=UploadPart)") == 3
    assert calls("OperationModel(name=CompleteMultipartUpload)") == 1
    assert calls("'x-amz-checksum-crc32'") >= 3  # each part's CRC32, checked by the gateway
    down = tmp_path / "down.bin"
    aws.run("s3", "cp", f"s3://{repo}/main/data/big.bin", str(down))
    assert down.read_bytes() == big.read_bytes()
    head = aws.api("head-object", "--bucket", repo, "--key", "main/data/big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ContentType"] == "application/x-big"
    assert head["Metadata"] == {"shot": "42"}
    small = tmp_path / "note.txt"
    small.write_bytes(b"a small note")
    aws.run("s3", "cp", str(small), f"s3://{repo}/main/data/note.txt")
    assert aws.run("s3", "cp", f"s3://{repo}/main/data/note.txt", "-").stdout == "a small note"


def test_ls_lists_repositories_branches_prefixes_and_recursively(
    aws: AwsCli, gateway: Gateway, repo: str
) -> None:
    s3 = gateway.client()
    for name, data in NAMES.items():
        s3.put_object(Bucket=repo, Key=f"main/{name}", Body=data)
    created = gateway.lakefs_call(
        "POST", f"/repositories/{repo}/branches", json={"name": "dev", "source": "main"}
    )
    assert created.status_code == 201, created.text
    buckets = [line.split()[-1] for line in _lines(aws.run("s3", "ls").stdout)]
    assert repo in buckets
    refs = _lines(aws.run("s3", "ls", f"s3://{repo}/").stdout)
    assert [line.strip() for line in refs] == ["PRE dev/", "PRE main/"]
    folder = _lines(aws.run("s3", "ls", f"s3://{repo}/main/").stdout)
    assert [line.strip() for line in folder if "PRE" in line] == ["PRE looks/"]
    assert [line.split()[-1] for line in folder if "PRE" not in line] == ["labels.csv"]
    recursive = aws.run("s3", "ls", "--recursive", "--page-size", "2", f"s3://{repo}/main/")
    assert _listed_keys(recursive.stdout) == sorted(f"main/{name}" for name in NAMES)


def test_sync_up_down_and_again_with_nothing_to_do(
    aws: AwsCli, gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    _write_tree(source, NAMES)
    target_url = f"s3://{repo}/main/site/"
    up = _lines(aws.run("s3", "sync", str(source), target_url).stdout)
    assert sorted(line.split()[0] for line in up) == ["upload:"] * len(NAMES)
    down = _lines(aws.run("s3", "sync", target_url, str(target)).stdout)
    assert sorted(line.split()[0] for line in down) == ["download:"] * len(NAMES)
    assert _tree(target) == _tree(source)
    assert _lines(aws.run("s3", "sync", str(source), target_url).stdout) == []
    assert _lines(aws.run("s3", "sync", target_url, str(target)).stdout) == []
    (source / "labels.csv").unlink()
    pruned = _lines(aws.run("s3", "sync", "--delete", str(source), target_url).stdout)
    assert pruned == [f"delete: {target_url}labels.csv"]
    listed = gateway.client().list_objects_v2(Bucket=repo, Prefix="main/site/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        f"main/site/{name}" for name in NAMES if name != "labels.csv"
    )


def test_rm_one_object_and_a_prefix(aws: AwsCli, gateway: Gateway, repo: str) -> None:
    s3 = gateway.client()
    for key in ("main/keep.txt", "main/one.txt", "main/old/a.txt", "main/old/b c/d.txt"):
        s3.put_object(Bucket=repo, Key=key, Body=b"x")
    one = _lines(aws.run("s3", "rm", f"s3://{repo}/main/one.txt").stdout)
    assert one == [f"delete: s3://{repo}/main/one.txt"]
    many = _lines(aws.run("s3", "rm", "--recursive", f"s3://{repo}/main/old/").stdout)
    assert len(many) == 2
    listed = s3.list_objects_v2(Bucket=repo, Prefix="main/")
    assert [o["Key"] for o in listed["Contents"]] == ["main/keep.txt"]


def test_s3api_head_object_and_ranged_get_object(
    aws: AwsCli, gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    body = bytes(range(256)) * 8
    gateway.client().put_object(
        Bucket=repo, Key="main/blob.bin", Body=body, ContentType="image/png", Metadata={"k": "v"}
    )
    head = aws.api("head-object", "--bucket", repo, "--key", "main/blob.bin")
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {"k": "v"}
    out = tmp_path / "part"
    got = aws.api(
        "get-object", "--bucket", repo, "--key", "main/blob.bin", "--range", "bytes=10-19", str(out)
    )
    assert out.read_bytes() == body[10:20]
    assert got["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert got["ContentLength"] == 10
    assert got["ETag"] == head["ETag"]


def test_committed_through_lakefs_then_read_at_the_commit_id(
    aws: AwsCli, gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    first = tmp_path / "labels.csv"
    first.write_bytes(b"sku,label\na-1,shirt\n")
    aws.run("s3", "cp", str(first), f"s3://{repo}/main/labels.csv")
    client = lakefs.Client(host=gateway.lakefs, username=KEY_ID, password=SECRET)
    repository = lakefs.repository(repo, client=client)
    commit = repository.branch("main").commit(message="labels v1").get_commit().id
    repository.tag("v1").create(source_ref=commit)
    first.write_bytes(b"sku,label\na-1,dress\n")
    aws.run("s3", "cp", str(first), f"s3://{repo}/main/labels.csv")
    at_commit = aws.run("s3", "cp", f"s3://{repo}/{commit}/labels.csv", "-").stdout
    assert at_commit == "sku,label\na-1,shirt\n"
    assert aws.run("s3", "cp", f"s3://{repo}/main/labels.csv", "-").stdout.endswith("dress\n")
    for ref in ("v1", commit):
        refused = aws.run("s3", "cp", str(first), f"s3://{repo}/{ref}/labels.csv", check=False)
        assert refused.returncode != 0
        assert "NoSuchBucket" in refused.stderr + refused.stdout
        assert "not a branch" in refused.stderr + refused.stdout
    assert aws.run("s3", "cp", f"s3://{repo}/v1/labels.csv", "-").stdout.endswith("shirt\n")
    url = aws.run("s3", "presign", f"s3://{repo}/{commit}/labels.csv").stdout.strip()
    assert httpx.get(url, timeout=10).content == b"sku,label\na-1,shirt\n"


def test_a_wrong_secret_is_signature_does_not_match(
    aws: AwsCli, gateway: Gateway, repo: str, tmp_path: Path
) -> None:
    listing = aws.run("--profile", "wrong", "s3", "ls", f"s3://{repo}/main/", check=False)
    assert listing.returncode != 0
    assert "SignatureDoesNotMatch" in listing.stderr
    local = tmp_path / "file.txt"
    local.write_bytes(b"never stored")
    upload = aws.run(
        "--profile", "wrong", "s3", "cp", str(local), f"s3://{repo}/main/file.txt", check=False
    )
    assert upload.returncode != 0
    assert "SignatureDoesNotMatch" in upload.stderr + upload.stdout
    assert gateway.client().list_objects_v2(Bucket=repo, Prefix="main/")["KeyCount"] == 0
