"""The lakeFS connection: the official ``lakefs_sdk`` client and raw streamed requests."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any

import lakefs_sdk
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.adapters.datasets.lakefs.errors import mapped
from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES, namespace_conflict

PAGE = 1000
CHUNK = 1024 * 1024
META_PREFIX = "x-lakefs-meta-"
_AUTH = ["basic_auth", "cookie_auth", "oidc_auth", "saml_auth", "jwt_token"]


class LakeFSConnection:
    """The SDK client, its connection pool, and the helpers every call group uses.

    ``namespace_prefix`` completes storage namespaces given without a scheme
    (``s3://garment-accuracy/repos`` + ``/ds`` for ``create_repository("x", "ds")``).
    """

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        namespace_prefix: str = "",
        import_poll_seconds: float = 0.2,
        import_timeout_seconds: float = 3600.0,
        content_bucket: str | None = None,
        reserved_prefixes: Sequence[str] = RESERVED_PREFIXES,
    ) -> None:
        """``content_bucket``: the platform's own bucket; a namespace in it may not overlap
        ``reserved_prefixes`` (the content zones), where our cleaners would delete lakeFS's
        objects."""
        self._content_bucket = content_bucket
        self._reserved = tuple(reserved_prefixes)
        config = lakefs_sdk.Configuration(
            host=endpoint.rstrip("/"), username=access_key_id, password=secret_access_key
        )
        self._client = LakeFSClient(config)  # type: ignore[no-untyped-call]
        self._api = self._client._api  # the ApiClient: auth headers and connection pool
        self._host = str(config.host).rstrip("/")
        self._prefix = namespace_prefix.rstrip("/")
        self._poll = import_poll_seconds
        self._import_timeout = import_timeout_seconds

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    @property
    def sdk(self) -> LakeFSClient:
        """The underlying ``lakefs_sdk`` client, for what the protocol does not cover."""
        return self._client

    # -- helpers -----------------------------------------------------------------------------

    def _pages(
        self, fetch: Callable[[str, int], Any], amount: int, after: str = ""
    ) -> Iterator[Any]:
        """Up to ``amount`` results across lakeFS's pages of at most 1000."""
        left = amount
        while left > 0:
            with mapped():
                listing = fetch(after, min(left, PAGE))
            yield from listing.results[:left]
            left -= len(listing.results)
            if not listing.pagination.has_more or not listing.results:
                return
            after = listing.pagination.next_offset

    def _raw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: dict[str, str],
        body: IO[bytes] | None = None,
    ) -> Any:
        """A request on the SDK's own pool and auth, streamed both ways."""
        resource = urllib.parse.quote(path, encoding="utf-8")
        url = f"{self._host}{resource}?{urllib.parse.urlencode(query)}"
        self._api.update_params_for_auth(  # type: ignore[no-untyped-call]
            headers, None, _AUTH, resource, method, body
        )
        response = self._api.rest_client.pool_manager.request(
            method, url, headers=headers, body=body, preload_content=False
        )
        if not 200 <= response.status < 300:
            exc = ApiException(status=response.status, reason=response.reason)
            exc.body = response.read()
            response.release_conn()
            return exc
        return response

    def _namespace(self, storage_namespace: str) -> str:
        if "://" in storage_namespace or not self._prefix:
            return storage_namespace
        return f"{self._prefix}/{storage_namespace.lstrip('/')}"

    def _check_namespace(self, namespace: str) -> None:
        """Refuse a namespace in the content bucket that overlaps a content zone."""
        scheme, _, rest = namespace.partition("://")
        bucket, _, prefix = rest.partition("/")
        if self._content_bucket is None or scheme not in ("s3", "r2"):
            return
        if bucket != self._content_bucket:
            return
        problem = (
            namespace_conflict(prefix, reserved=self._reserved)
            if prefix.strip("/")
            else f"storage namespace {namespace!r} is the whole content bucket"
        )
        if problem is not None:
            raise e.InvalidArgumentError(problem)

    @staticmethod
    def _stream(response: Any) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK)
        finally:
            response.release_conn()
