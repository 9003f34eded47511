"""Pieces the in-process backends (memory, local disk) share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Literal

from sartiq_storage.adapters.stores.base import (
    DEFAULT_CHUNK,
    Body,
    DeleteFailure,
    ObjectStore,
    PresignedRequest,
)
from sartiq_storage.core.errors import ConfigurationError, StorageError
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.validation import validate_key


def iter_body(body: Body, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    """Yield a put body as chunks without loading a file object whole."""
    if isinstance(body, bytes | bytearray | memoryview):
        yield bytes(body)
        return
    read = getattr(body, "read", None)
    if read is not None:
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            yield bytes(chunk)
    else:
        for chunk in body:
            if chunk:
                yield bytes(chunk)


class Md5Counter:
    """Hashes and counts bytes as they stream past, for ETags and sizes."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()


class SignedUrlMixin(ObjectStore):
    """Presigned URLs served by this service itself (the embedded upload target)."""

    signer: UrlSigner | None = None
    signed_put_create_only = True

    def _require_signer(self) -> UrlSigner:
        if self.signer is None:
            raise ConfigurationError(
                f"the {self.kind} backend can presign only when the service URL and a signing "
                "secret are configured"
            )
        return self.signer

    def _presign(
        self,
        method: Literal["PUT", "GET"],
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
        if_absent: bool = False,
        max_length: int | None = None,
    ) -> PresignedRequest:
        key = validate_key(key)
        signer = self._require_signer()
        grant = signer.grant(
            method,
            key,
            expires_in=expires_in,
            content_type=content_type,
            content_length=content_length,
            if_absent=if_absent,
            max_length=max_length,
        )
        headers: dict[str, str] = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        return PresignedRequest(signer.sign(grant), method, headers, expires_in)

    def presign_put(
        self,
        key: str,
        *,
        content_type: str | None,
        content_length: int | None = None,
        expires_in: int,
        if_absent: bool = True,
        max_length: int | None = None,
    ) -> PresignedRequest:
        return self._presign(
            "PUT",
            key,
            expires_in=expires_in,
            content_type=content_type,
            content_length=content_length,
            if_absent=if_absent,
            max_length=max_length,
        )

    def presign_get(self, key: str, *, expires_in: int) -> PresignedRequest:
        return self._presign("GET", key, expires_in=expires_in)

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        failures: list[DeleteFailure] = []
        for key in keys:
            try:
                self.delete(key)
            except (StorageError, OSError) as exc:
                failures.append(DeleteFailure(str(key), str(exc)))
        return failures
