"""Where a repository's bytes live: storage namespace → (object store, key prefix).

The one place that knows the stores. A repository records its namespace *qualified*:

* ``s3://<bucket>/<prefix>``: that bucket's own :class:`S3Store` (the dataset settings'
  endpoint, region and credentials, else the AWS chain), one client per bucket, cached;
* ``local://<prefix>``: the datasets folder (``DATASETS_LOCAL_PATH``), never the content
  store's folder;
* a bare ``<prefix>``: the engine's own store. Repositories made before namespaces had
  stores of their own recorded that, and the engine on a single store (the library's
  ``NativeDatasetEngine(kv, store)``) keeps doing it.

Everything the engine reads or writes for a repository, and every external (imported)
address, goes through :meth:`NamespaceStores.resolve`. GC lists only its repository's
``(store, prefix)``; the content store's orphan scan lists the content store only, so it
never sees a dataset bucket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.validation import validate_prefix

Mode = Literal["single", "local", "s3"]
"""``single``: every namespace on the engine's one store (the library default, and how
namespaces worked before). ``local`` / ``s3``: new namespaces must use that scheme, as a lakeFS
installation has one blockstore type."""

_LOCAL_SCHEMES = ("local", "mem", "memory")
_S3_SCHEMES = ("s3", "r2")


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed namespace or import source: ``scheme`` is ``""``, ``local`` or ``s3``."""

    scheme: str
    bucket: str
    key: str


def parse_location(text: str, *, allow_empty: bool = False) -> Location:
    """``s3://bucket/key``, ``local://key`` (``mem://`` alike) or a bare ``key``; the key
    passes :func:`validate_prefix` and loses its outer slashes."""
    raw = text.strip()
    scheme, sep, rest = raw.partition("://")
    bucket = ""
    if not sep:
        scheme, rest = "", raw
    elif scheme in _S3_SCHEMES:
        bucket, _, rest = rest.partition("/")
        if not bucket:
            raise InvalidArgumentError(f"{text!r} names no bucket")
        scheme = "s3"
    elif scheme in _LOCAL_SCHEMES:
        scheme = "local"
    else:
        raise InvalidArgumentError(f"unsupported storage namespace scheme {scheme!r}")
    key = rest.strip("/")
    if not key and not allow_empty:
        raise InvalidArgumentError("storage namespace must name a non-empty prefix")
    try:
        return Location(scheme, bucket, validate_prefix(key))
    except InvalidKeyError as exc:
        raise InvalidArgumentError(f"invalid storage namespace: {exc}") from exc


class NamespaceStores:
    """Resolves qualified namespaces and external addresses to ``(store, key)``.

    ``home``: the engine's own store (bare keys; the content store when opened from
    settings). ``datasets``: the ``local://`` folder (defaults to ``home``). ``bucket_store``
    opens a store for an S3 bucket; ``content_bucket`` is the content store's bucket, used
    only when ``allow_content_bucket``.
    """

    def __init__(
        self,
        home: ObjectStore,
        *,
        mode: Mode = "single",
        datasets: ObjectStore | None = None,
        bucket_store: Callable[[str], ObjectStore] | None = None,
        content_bucket: str | None = None,
        allow_content_bucket: bool = False,
    ) -> None:
        self.home = home
        self.mode: Mode = mode
        self.datasets = datasets or home
        self._bucket_store = bucket_store
        self.content_bucket = content_bucket or getattr(home, "bucket", None)
        self.allow_content_bucket = allow_content_bucket
        self._buckets: dict[str, ObjectStore] = {}
        self._lock = threading.Lock()

    @classmethod
    def single(cls, store: ObjectStore) -> NamespaceStores:
        return cls(store)

    # -- what the deployment accepts --------------------------------------------------------
    @property
    def scheme(self) -> Literal["local", "s3"]:
        """The scheme new namespaces and import sources use (``/config/storage``)."""
        if self.mode == "single":
            return "s3" if getattr(self.home, "bucket", None) else "local"
        return self.mode

    @property
    def pattern(self) -> str:
        return f"^{self.scheme}://"

    def locate(self, storage_namespace: str) -> str:
        """The qualified namespace a new repository records, or InvalidArgumentError."""
        where = parse_location(storage_namespace)
        if self.mode == "single":
            if where.scheme == "s3" and where.bucket != self.content_bucket:
                raise InvalidArgumentError(
                    f"storage namespace {storage_namespace!r} names bucket {where.bucket!r}, "
                    f"but this engine stores in {self.content_bucket!r}"
                )
            return where.key
        if self.mode == "local":
            if where.scheme == "s3":
                raise self._mismatch(storage_namespace)
            return f"local://{where.key}"
        if where.scheme != "s3":
            raise self._mismatch(storage_namespace)
        self._check_bucket(where.bucket, storage_namespace)
        return f"s3://{where.bucket}/{where.key}"

    def import_source(self, source: str) -> str:
        """The qualified prefix an import reads, or refused: on S3 ``s3://any-bucket/…``
        (the content bucket only when allowed); embedded, ``local://…`` in the datasets folder
        or a bare prefix on the content store (how repositories made inside content zones
        move out)."""
        trailing = source.rstrip().endswith("/")
        where = parse_location(source, allow_empty=True)
        if self.mode == "single":
            if where.scheme == "s3" and where.bucket != self.content_bucket:
                return self._slash(f"s3://{where.bucket}/{where.key}", trailing)
            return self._slash(where.key, trailing)
        if (where.scheme == "s3") != (self.mode == "s3"):
            raise InvalidArgumentError(f"import source {source!r} does not match {self.pattern}")
        if where.scheme == "s3":
            self._check_bucket(where.bucket, source)
            return self._slash(f"s3://{where.bucket}/{where.key}", trailing)
        if where.scheme == "":  # embedded: a bare prefix is one on the content store
            return self._slash(where.key, trailing)
        return self._slash(f"local://{where.key}", trailing)

    @staticmethod
    def _slash(qualified: str, trailing: bool) -> str:
        return qualified + "/" if trailing and not qualified.endswith("/") else qualified

    def _mismatch(self, text: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"storage namespace {text!r} does not match {self.pattern}")

    def _check_bucket(self, bucket: str, text: str) -> None:
        if bucket == self.content_bucket and not self.allow_content_bucket:
            raise InvalidArgumentError(
                f"{text!r} is in the content bucket {bucket!r}; datasets live in buckets of "
                "their own (DATASETS_ALLOW_CONTENT_BUCKET permits it)"
            )

    def zoned(self, qualified: str) -> bool:
        """Whether the content zones rule applies: everywhere but a dataset bucket."""
        where = parse_location(qualified, allow_empty=True)
        return where.scheme != "s3" or where.bucket == self.content_bucket

    @staticmethod
    def key_of(qualified: str) -> str:
        """The key part of a qualified namespace (what the content zones rule judges)."""
        scheme, sep, rest = qualified.partition("://")
        if not sep:
            return qualified
        return rest.partition("/")[2] if scheme == "s3" else rest

    # -- resolution -----------------------------------------------------------------------
    def resolve(self, qualified: str) -> tuple[ObjectStore, str]:
        """``(store, key)`` of a qualified namespace or external address."""
        scheme, sep, rest = qualified.partition("://")
        if not sep:
            return self.home, qualified
        if scheme == "local":
            return self.datasets, rest
        if scheme == "s3":
            bucket, _, key = rest.partition("/")
            return self.bucket(bucket), key
        raise InvalidArgumentError(f"unsupported address {qualified!r}")

    def bucket(self, name: str) -> ObjectStore:
        """One store per bucket, opened once (the content bucket is the home store)."""
        if name == self.content_bucket:
            return self.home
        with self._lock:
            store = self._buckets.get(name)
            if store is None:
                if self._bucket_store is None:
                    raise InvalidArgumentError(f"no store is configured for bucket {name!r}")
                store = self._bucket_store(name)
                self._buckets[name] = store
            return store

    def stores(self) -> list[ObjectStore]:
        """Every store opened so far, the home store first."""
        with self._lock:
            opened = list(self._buckets.values())
        extra = [self.datasets] if self.datasets is not self.home else []
        return [self.home, *extra, *opened]

    def close(self) -> None:
        """Closes the stores this resolver opened (not the home store: its owner does)."""
        for store in self.stores()[1:]:
            store.close()
