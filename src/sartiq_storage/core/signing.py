"""HMAC-signed, expiring URLs for the embedded backend (Active Storage's disk-service model).

On R2/S3 the bucket checks presigned URLs. With the embedded backend the service itself
is the upload and download target, so it signs the same constraints into the URL: method,
key, content type, length, expiry and create-only.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import quote_plus

from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.quoting import key_quoter

OBJECT_ROUTE = "/_storage/objects/"
"""Where the service answers signed PUT and GET requests for the embedded backend."""
PART_ROUTE = "/_storage/parts/"
"""Where the service answers signed part uploads (a multipart upload's ``UploadPart``)."""


class SignatureError(StorageError):
    """A signed URL that is forged, altered or expired."""

    status = 403


@dataclass(frozen=True, slots=True)
class SignedGrant:
    """What a verified URL allows."""

    method: Literal["PUT", "GET"]
    key: str
    expires: int
    content_type: str | None
    content_length: int | None
    if_absent: bool
    max_length: int | None = None
    """The most bytes the PUT may carry when the exact length is not bound (a dataset object
    signed before its size is known); None: the service's upload limit."""
    upload_id: str | None = None
    """Set for one part of a multipart upload, with its ``part_number``."""
    part_number: int | None = None
    zone: str | None = None
    """The store the URL is for when it is not the content store (``datasets``: the
    datasets folder, ``docs/datasets.md``); signed, so a URL cannot be moved to another."""


def _canonical(grant: SignedGrant) -> bytes:
    parts = [
        grant.method,
        grant.key,
        str(grant.expires),
        grant.content_type or "",
        "" if grant.content_length is None else str(grant.content_length),
        "1" if grant.if_absent else "0",
    ]
    if grant.max_length is not None:  # only then, so URLs signed before the field still verify
        parts.append(f"max={grant.max_length}")
    if grant.upload_id is not None:  # a part: bound to its upload and number too
        parts += ["part", grant.upload_id, str(grant.part_number)]
    if grant.zone is not None:
        parts.append(f"zone={grant.zone}")
    return "\n".join(parts).encode("utf-8")


_quote_path = key_quoter()
"""``quote(key)``; a presign's ``temp/{hex}_{time}_{safe name}`` needs no encoding."""


@lru_cache(maxsize=256)
def _quote_value(value: str) -> str:
    """``quote_plus`` of a content type: a few distinct values, each signed again and again."""
    return quote_plus(value)


class UrlSigner:
    """Signs and verifies grants with one secret."""

    def __init__(self, secret: str, base_url: str, *, zone: str | None = None) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._key = secret.encode("utf-8")
        self.base_url = base_url.rstrip("/")
        self.zone = zone

    def for_zone(self, zone: str) -> UrlSigner:
        """The same secret and routes, its URLs bound to another store (``zone``)."""
        signer = UrlSigner.__new__(UrlSigner)
        signer._key, signer.base_url, signer.zone = self._key, self.base_url, zone
        return signer

    def _sign(self, grant: SignedGrant) -> str:
        return hmac.digest(self._key, _canonical(grant), "sha256").hex()  # OpenSSL's one shot

    def sign(self, grant: SignedGrant) -> str:
        """The full URL for a grant.

        The query is ``urlencode`` of the fields in this order, written out directly: every
        presign builds one, and ``urlencode`` quotes each name and each digit string anew.
        """
        query = f"expires={grant.expires}"
        if grant.content_type is not None:
            query += f"&ct={_quote_value(grant.content_type)}"
        if grant.content_length is not None:
            query += f"&len={grant.content_length}"
        if grant.if_absent:
            query += "&once=1"
        if grant.max_length is not None:
            query += f"&max={grant.max_length}"
        route = OBJECT_ROUTE
        if grant.upload_id is not None:
            query += f"&uploadId={quote_plus(grant.upload_id)}&partNumber={grant.part_number}"
            route = PART_ROUTE
        if grant.zone is not None:
            query += f"&zone={quote_plus(grant.zone)}"
        return f"{self.base_url}{route}{_quote_path(grant.key)}?{query}&sig={self._sign(grant)}"

    def grant(
        self,
        method: Literal["PUT", "GET"],
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
        if_absent: bool = False,
        now: float | None = None,
        max_length: int | None = None,
        upload_id: str | None = None,
        part_number: int | None = None,
    ) -> SignedGrant:
        expires = int((time.time() if now is None else now) + expires_in)
        return SignedGrant(
            method,
            key,
            expires,
            content_type,
            content_length,
            if_absent,
            max_length,
            upload_id,
            part_number,
            self.zone,
        )

    def verify(
        self,
        method: str,
        key: str,
        query: dict[str, str],
        *,
        now: float | None = None,
    ) -> SignedGrant:
        """Check a request's query against its signature; raise :class:`SignatureError`."""
        try:
            expires = int(query["expires"])
            length = int(query["len"]) if "len" in query else None
            max_length = int(query["max"]) if "max" in query else None
            part_number = int(query["partNumber"]) if "partNumber" in query else None
            signature = query["sig"]
        except (KeyError, ValueError) as exc:
            raise SignatureError("missing or malformed signature parameters") from exc
        if method not in ("PUT", "GET"):
            raise SignatureError(f"method {method} is not signable")
        grant = SignedGrant(
            method,  # type: ignore[arg-type]
            key,
            expires,
            query.get("ct"),
            length,
            query.get("once") == "1",
            max_length,
            query.get("uploadId"),
            part_number,
            query.get("zone"),
        )
        if not hmac.compare_digest(self._sign(grant), signature):
            raise SignatureError("signature does not match")
        if (time.time() if now is None else now) > expires:
            raise SignatureError("URL has expired")
        return grant
