"""Data tools on the S3 gateway, over real HTTP against ``serve``: s3fs, PyArrow's
``S3FileSystem`` and polars write and read parquet on a branch, the branch is committed
through the lakeFS API, and the files are read back at that commit id."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs
from pyarrow import fs

from tests.support.lakefs import KEY_ID, SECRET, unique
from tests.support.s3_gateway import REGION, Gateway, running_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("tools")) as served:
        yield served


@pytest.fixture
def repo(gateway: Gateway) -> str:
    name = unique("tools")
    gateway.create_repository(name)
    return name


def _table() -> pa.Table:
    return pa.table({"garment": ["shirt", "dress", "coat"], "score": [0.9, 0.75, 0.6]})


def test_s3fs_writes_lists_and_reads_at_a_commit(gateway: Gateway, repo: str) -> None:
    filesystem = s3fs.S3FileSystem(
        key=KEY_ID,
        secret=SECRET,
        client_kwargs={"endpoint_url": gateway.endpoint, "region_name": REGION},
        config_kwargs={"s3": {"addressing_style": "path"}},
        use_listings_cache=False,
    )
    with filesystem.open(f"{repo}/main/tables/scores.parquet", "wb") as out:
        pq.write_table(_table(), out)
    filesystem.pipe(f"{repo}/main/notes/readme.txt", b"hello")
    assert filesystem.ls(f"{repo}/main/tables/", detail=False) == [
        f"{repo}/main/tables/scores.parquet"
    ]
    assert sorted(filesystem.find(f"{repo}/main/")) == [
        f"{repo}/main/notes/readme.txt",
        f"{repo}/main/tables/scores.parquet",
    ]
    commit = gateway.commit(repo, "main", "scores")
    filesystem.rm(f"{repo}/main/notes/readme.txt")
    with filesystem.open(f"{repo}/{commit}/tables/scores.parquet", "rb") as source:
        assert pq.read_table(source).equals(_table())
    assert filesystem.cat(f"{repo}/{commit}/notes/readme.txt") == b"hello"
    assert not filesystem.exists(f"{repo}/main/notes/readme.txt")


def test_pyarrow_s3filesystem_round_trip(gateway: Gateway, repo: str) -> None:
    host = gateway.endpoint.removeprefix("http://")
    filesystem = fs.S3FileSystem(
        access_key=KEY_ID,
        secret_key=SECRET,
        endpoint_override=host,
        scheme="http",
        region=REGION,
        force_virtual_addressing=False,
    )
    pq.write_table(_table(), f"{repo}/main/arrow/part-0.parquet", filesystem=filesystem)
    pq.write_table(_table(), f"{repo}/main/arrow/part-1.parquet", filesystem=filesystem)
    infos = filesystem.get_file_info(fs.FileSelector(f"{repo}/main/arrow/"))
    assert sorted(i.base_name for i in infos) == ["part-0.parquet", "part-1.parquet"]
    commit = gateway.commit(repo, "main", "arrow")
    dataset = pq.read_table(f"{repo}/{commit}/arrow/", filesystem=filesystem)
    assert dataset.num_rows == 6


def test_polars_writes_and_reads_parquet(gateway: Gateway, repo: str) -> None:
    options = {
        "aws_access_key_id": KEY_ID,
        "aws_secret_access_key": SECRET,
        "aws_region": REGION,
        "aws_endpoint_url": gateway.endpoint,
        "aws_allow_http": "true",
        "aws_virtual_hosted_style_request": "false",
    }
    frame = pl.DataFrame({"garment": ["shirt", "dress"], "views": [10, 20]})
    frame.write_parquet(f"s3://{repo}/main/polars/views.parquet", storage_options=options)
    commit = gateway.commit(repo, "main", "polars")
    read = pl.read_parquet(f"s3://{repo}/{commit}/polars/views.parquet", storage_options=options)
    assert read.equals(frame)
    lazy = pl.scan_parquet(f"s3://{repo}/main/polars/*.parquet", storage_options=options)
    assert lazy.select(pl.col("views").sum()).collect().item() == 30
