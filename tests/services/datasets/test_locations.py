"""NamespaceStores: namespaces qualified and resolved to their own stores."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.stores import MemoryStore, ObjectStore
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.services.datasets.locations import NamespaceStores, parse_location


class _Bucket(MemoryStore):
    def __init__(self, bucket: str) -> None:
        super().__init__()
        self.bucket = bucket


def _s3(opened: list[str]) -> NamespaceStores:
    def open_bucket(name: str) -> ObjectStore:
        opened.append(name)
        return _Bucket(name)

    return NamespaceStores(
        _Bucket("content"), mode="s3", bucket_store=open_bucket, content_bucket="content"
    )


def test_parse_location() -> None:
    assert parse_location("s3://b/x/y/").key == "x/y"
    assert parse_location("r2://b/x").scheme == "s3"
    assert parse_location("mem://x").scheme == "local"
    assert parse_location("datasets/x") == parse_location("datasets/x/")
    for bad in ("ftp://x", "s3:///x", "local://", "s3://b"):
        with pytest.raises(InvalidArgumentError):
            parse_location(bad)


def test_s3_namespaces_get_their_own_cached_store_and_never_the_content_bucket() -> None:
    opened: list[str] = []
    stores = _s3(opened)
    assert stores.pattern == "^s3://"
    assert stores.locate("s3://shootify-datasets/repos/a/") == "s3://shootify-datasets/repos/a"
    first, key = stores.resolve("s3://shootify-datasets/repos/a")
    again, _ = stores.resolve("s3://shootify-datasets/repos/b")
    assert first is again
    assert key == "repos/a"
    assert opened == ["shootify-datasets"]
    assert getattr(first, "bucket", None) == "shootify-datasets"
    with pytest.raises(InvalidArgumentError, match="content bucket"):
        stores.locate("s3://content/datasets/a")
    for other in ("local://datasets/a", "datasets/a"):
        with pytest.raises(InvalidArgumentError, match=r"\^s3://"):
            stores.locate(other)
    assert not stores.zoned("s3://shootify-datasets/media")
    assert stores.zoned("s3://content/datasets/a")
    assert stores.import_source("s3://raw/photos/") == "s3://raw/photos/"
    stores.close()


def test_the_content_bucket_when_allowed_is_the_content_store() -> None:
    content = _Bucket("content")
    stores = NamespaceStores(
        content, mode="s3", content_bucket="content", allow_content_bucket=True
    )
    assert stores.locate("s3://content/datasets/a") == "s3://content/datasets/a"
    assert stores.resolve("s3://content/datasets/a") == (content, "datasets/a")


def test_local_namespaces_live_in_the_datasets_folder_and_bare_keys_stay_home() -> None:
    content, folder = MemoryStore(), MemoryStore()
    stores = NamespaceStores(content, mode="local", datasets=folder)
    assert stores.pattern == "^local://"
    assert stores.locate("datasets/a") == "local://datasets/a"
    assert stores.locate("mem://datasets/a") == "local://datasets/a"
    assert stores.resolve("local://datasets/a") == (folder, "datasets/a")
    assert stores.resolve("datasets/legacy") == (content, "datasets/legacy")  # made before
    with pytest.raises(InvalidArgumentError, match=r"\^local://"):
        stores.locate("s3://b/x")
    assert stores.import_source("local://drop/") == "local://drop/"
    assert stores.import_source("media/") == "media/"  # the content store
    with pytest.raises(InvalidArgumentError, match=r"\^local://"):
        stores.import_source("s3://b/x/")


def test_a_single_store_engine_keeps_bare_keys() -> None:
    store = _Bucket("own")
    stores = NamespaceStores.single(store)
    assert stores.locate("s3://own/datasets/a") == "datasets/a"
    assert stores.locate("local://datasets/a") == "datasets/a"
    with pytest.raises(InvalidArgumentError, match="names bucket"):
        stores.locate("s3://other/datasets/a")
    assert stores.resolve("datasets/a") == (store, "datasets/a")
