"""``lakefs-spec`` (the fsspec filesystem for lakeFS) and the data-frame libraries that use it,
against a running ``serve`` over real HTTP, on the embedded default and on S3 (issue 16, item 7):
file operations, pandas and polars reading and writing parquet and CSV at ``lakefs://`` URLs,
and a transaction whose commit is then read back by its id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lakefs
import pandas as pd
import polars as pl
import pytest
from lakefs_spec import LakeFSFileSystem

from sartiq_storage.testing.moto_server import free_port, make_bucket, moto_settings
from tests.support.dataset_buckets import datasets_bucket
from tests.support.lakefs import KEY_ID, SECRET, unique
from tests.support.serve_process import get_once_up, serve_process


@dataclass(frozen=True)
class Served:
    url: str
    """The lakeFS API's base URL."""
    namespaces: str
    """Where test repositories live on that service's store."""


@pytest.fixture(scope="module", params=["embedded", "s3"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``serve`` as an operator starts it, with the datasets key pair set: on the embedded
    default, and on S3 (moto's server as the R2 backend)."""
    work = tmp_path_factory.mktemp("lakefs-spec")
    port = free_port()
    env = {"DATASETS_ACCESS_KEY_ID": KEY_ID, "DATASETS_SECRET_ACCESS_KEY": SECRET}
    namespaces = "local://datasets"
    if request.param == "s3":
        bucket = make_bucket(request.getfixturevalue("moto_endpoint"))
        env |= moto_settings(request.getfixturevalue("moto_endpoint"), bucket)
        env["AUTH_JWT_SECRET"] = "lakefs-spec-tests-jwt-secret-0123456789"
        datasets, settings = datasets_bucket(request.getfixturevalue("moto_endpoint"))
        env |= settings  # datasets in a bucket of their own, as the seed deploys them
        namespaces = f"s3://{datasets}/datasets"
    with serve_process(work, port, env=env):
        url = f"http://127.0.0.1:{port}/lakefs/api/v1"
        get_once_up(f"{url}/healthcheck", attempts=300)
        yield Served(url, namespaces)


@pytest.fixture
def options(served: Served) -> dict[str, Any]:
    """What pandas passes to fsspec for a ``lakefs://`` URL."""
    return {"host": served.url, "username": KEY_ID, "password": SECRET}


@pytest.fixture
def fs(options: dict[str, Any]) -> LakeFSFileSystem:
    return LakeFSFileSystem(**options)


@pytest.fixture
def repo(served: Served) -> Iterator[str]:
    client = lakefs.Client(host=served.url, username=KEY_ID, password=SECRET)
    name = unique("spec")
    repository = lakefs.repository(name, client=client).create(
        storage_namespace=f"{served.namespaces}/{name}"
    )
    yield name
    repository.delete()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": ["a-1", "b-2", "c-3"], "price": [9.5, 12.0, 30.25], "stock": [3, 0, 12]}
    )


def test_put_get_ls_info_rm(fs: LakeFSFileSystem, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "look.txt"
    local.write_bytes(b"white shirt, front view")
    url = f"lakefs://{repo}/main/looks/look.txt"

    fs.put(str(local), url)
    assert fs.exists(url)
    info = fs.info(url)
    assert info["size"] == len(b"white shirt, front view")
    assert info["type"] == "file"
    listed = fs.ls(f"lakefs://{repo}/main/looks/", detail=False)
    assert [p.rstrip("/") for p in listed] == [f"{repo}/main/looks/look.txt"]
    assert fs.info(f"lakefs://{repo}/main/looks/")["type"] == "directory"

    copy = tmp_path / "back.txt"
    fs.get(url, str(copy))
    assert copy.read_bytes() == b"white shirt, front view"
    assert fs.cat_file(url, start=6, end=11) == b"shirt"

    fs.rm(url)
    assert not fs.exists(url)
    with pytest.raises(FileNotFoundError):
        fs.info(url)


def test_pandas_parquet_and_csv(options: dict[str, Any], repo: str) -> None:
    frame = _frame()
    parquet = f"lakefs://{repo}/main/tables/catalog.parquet"
    frame.to_parquet(parquet, storage_options=options, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet, storage_options=options), frame)

    csv = f"lakefs://{repo}/main/tables/catalog.csv"
    frame.to_csv(csv, storage_options=options, index=False)
    pd.testing.assert_frame_equal(pd.read_csv(csv, storage_options=options), frame)


def test_polars_parquet_and_csv(fs: LakeFSFileSystem, repo: str) -> None:
    frame = pl.from_pandas(_frame())
    parquet = f"lakefs://{repo}/main/tables/polars.parquet"
    with fs.open(parquet, "wb") as out:
        frame.write_parquet(out)
    with fs.open(parquet, "rb") as source:
        assert pl.read_parquet(source).equals(frame)

    csv = f"lakefs://{repo}/main/tables/polars.csv"
    with fs.open(csv, "wb") as out:
        frame.write_csv(out)
    with fs.open(csv, "rb") as source:
        assert pl.read_csv(source).equals(frame)


def test_transaction_commit_then_read_at_the_commit(
    fs: LakeFSFileSystem, options: dict[str, Any], repo: str
) -> None:
    frame = _frame()
    with fs.transaction(repo, "main") as tx:
        branch = tx.branch.id
        frame.to_parquet(
            f"lakefs://{repo}/{branch}/tables/tx.parquet", storage_options=options, index=False
        )
        committed = tx.commit(message="catalog snapshot", metadata={"source": "lakefs-spec"})
        tag = tx.tag(committed, name="snapshot-1")

    at_commit = f"lakefs://{repo}/{committed.id}/tables/tx.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(at_commit, storage_options=options), frame)
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"lakefs://{repo}/{tag.id}/tables/tx.parquet", storage_options=options),
        frame,
    )
    # Merged into main, the ephemeral branch gone.
    assert fs.exists(f"lakefs://{repo}/main/tables/tx.parquet")
    branches = [b.id for b in lakefs.Repository(repo, client=fs.client).branches()]
    assert branch not in branches


def _failing_job(fs: LakeFSFileSystem, options: dict[str, Any], repo: str) -> None:
    with fs.transaction(repo, "main") as tx:
        _frame().to_csv(
            f"lakefs://{repo}/{tx.branch.id}/half.csv", storage_options=options, index=False
        )
        raise RuntimeError("the job failed")


def test_failed_transaction_leaves_main_untouched(
    fs: LakeFSFileSystem, options: dict[str, Any], repo: str
) -> None:
    with (
        pytest.warns(UserWarning, match="uncommitted changes"),
        pytest.raises(RuntimeError, match="the job failed"),
    ):
        _failing_job(fs, options, repo)
    assert not fs.exists(f"lakefs://{repo}/main/half.csv")
