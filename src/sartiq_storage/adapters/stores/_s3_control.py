"""The S3 backend's boto3 half: what only boto3 does (see ``s3.py`` for the whole picture).

Presigned URLs with bound headers, copies that replace metadata or carry conditional headers
(``CopySourceIfMatch``, ``If-None-Match`` on AWS, ``cf-copy-destination-if-none-match`` on R2),
deletes (``DeleteObject`` is idempotent, so boto3 retries it), batch deletes that report
per-key failures, and the client that bucket configuration uses. :class:`S3ControlPlane` is
the base of :class:`~sartiq_storage.adapters.stores.s3.S3Store`, which adds obstore's data
plane (put, get, head, list).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sartiq_storage.adapters.stores._s3_errors import (
    boto_error_code,
    precondition_failed,
    translated,
)
from sartiq_storage.adapters.stores.base import (
    SOURCE_CHANGED,
    DeleteFailure,
    ObjectInfo,
    ObjectStore,
    PresignedRequest,
    normalize_etag,
)
from sartiq_storage.core.errors import (
    BucketNotFoundError,
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)
from sartiq_storage.core.validation import validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Flavor = Literal["aws", "r2", "generic"]
MAX_SINGLE_COPY = 5 * 1024**3
"""S3's limit for one CopyObject; a bigger object is copied in parts (UploadPartCopy)."""
COPY_PART_SIZE = 256 * 1024**2
"""Part size of a multipart copy: 20 parts for a 5 GiB video, copied 10 at a time."""
PAGE = 1000
"""Keys per listing page and per batch delete (S3's own maximum for both)."""
R2_COPY_IF_ABSENT = "cf-copy-destination-if-none-match"
QUOTE = '"'


def detect_flavor(endpoint_url: str | None) -> Flavor:
    """Which S3 dialect an endpoint speaks, from its host name."""
    if not endpoint_url:
        return "aws"
    host = urlparse(endpoint_url).hostname or ""
    if host.endswith(".r2.cloudflarestorage.com"):
        return "r2"
    if host.endswith(".amazonaws.com"):
        return "aws"
    return "generic"


class S3ControlPlane(ObjectStore):
    """One bucket's boto3 client and the operations made through it."""

    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        flavor: Flavor | None,
        max_attempts: int,
        connect_timeout: float,
        read_timeout: float,
        multipart_copy_threshold: int = MAX_SINGLE_COPY,
        copy_part_size: int = COPY_PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self.multipart_copy_threshold = min(multipart_copy_threshold, MAX_SINGLE_COPY)
        """Objects above this size are copied in parts (a test lowers it to run that path)."""
        self.copy_part_size = copy_part_size
        self.endpoint_url = endpoint_url
        self.max_attempts = max(1, max_attempts)
        self.flavor: Flavor = flavor or detect_flavor(endpoint_url)
        self.atomic_create_only_copy = self.flavor != "generic"
        self.boto_region = "us-east-1" if region == "auto" and self.flavor == "aws" else region
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=self.boto_region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=32,
            ),
        )
        self._client.meta.events.register("before-sign.s3.CopyObject", self._add_copy_headers)
        self._local = threading.local()  # per-thread extra headers for the next CopyObject

    @property
    def description(self) -> str:
        where = self.endpoint_url or "AWS S3"
        return f"s3 bucket {self.bucket!r} at {where} ({self.flavor})"

    def copy_computes_md5(self, size: int) -> bool:
        # AWS writes a single CopyObject's result as one part, its ETag the MD5 of the bytes
        # (plaintext and SSE-S3 objects). moto does too, SeaweedFS keeps the source's "…-N"
        # (the store contract pins both), R2 and MinIO do not document it, and a copy in
        # parts answers "…-N" everywhere: so only on AWS, below the multipart-copy size.
        return self.flavor == "aws" and size <= self.multipart_copy_threshold

    @property
    def client(self) -> S3Client:
        """The boto3 client, for bucket configuration (lifecycle, CORS)."""
        return self._client

    # -- copies that only boto3 can make ---------------------------------------------------

    def _add_copy_headers(self, request: Any, **_: Any) -> None:
        for name, value in getattr(self._local, "copy_headers", {}).items():
            request.headers[name] = value

    def _boto_copy(
        self,
        source: str,
        destination: str,
        *,
        content_type: str | None,
        cache_control: str | None,
        if_absent: bool,
        source_info: ObjectInfo | None,
    ) -> ObjectInfo:
        """A copy replacing metadata, create-only, or pinned to the source's ETag."""
        replace_meta = content_type is not None or cache_control is not None
        src_info = self.head(source) if source_info is None else source_info
        if if_absent and self.flavor == "generic" and self.exists(destination):
            # Neither header is understood here: a HEAD check is the best there is.
            raise PreconditionFailedError(destination)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": destination,
            "CopySource": {"Bucket": self.bucket, "Key": source},
            "MetadataDirective": "REPLACE" if replace_meta else "COPY",
        }
        if replace_meta:
            params["ContentType"] = content_type or "application/octet-stream"
            if cache_control:
                params["CacheControl"] = cache_control
        if if_absent and self.flavor == "aws":
            params["IfNoneMatch"] = "*"
        etag = src_info.etag or ""
        pinned = source_info is not None and bool(etag) and not etag.startswith("W/")
        if pinned:  # moto ignores it; R2 and S3 honour it (docs/reliability.md)
            params["CopySourceIfMatch"] = f'"{etag}"'
        headers = {R2_COPY_IF_ABSENT: "*"} if if_absent and self.flavor == "r2" else {}
        with translated(destination):
            if src_info.size > self.multipart_copy_threshold:
                self._multipart_copy(params, destination, if_absent=if_absent)
            else:
                self._local.copy_headers = headers
                try:
                    answer = self._client.copy_object(**params)
                except ClientError as exc:
                    if pinned and self._source_changed(exc, source, src_info):
                        raise PreconditionFailedError(source, SOURCE_CHANGED) from None
                    if not if_absent:
                        raise
                    held = self._copied_by_a_retry(exc, destination, src_info)
                    if held is None:
                        raise
                    return held
                finally:
                    self._local.copy_headers = {}
                # The answer carries the new ETag and date; the rest we know: no third request.
                result = answer.get("CopyObjectResult", {})
                return ObjectInfo(
                    key=destination,
                    size=src_info.size,
                    etag=normalize_etag(result.get("ETag")) or src_info.etag,
                    last_modified=result.get("LastModified") or src_info.last_modified,
                    content_type=params.get("ContentType", src_info.content_type),
                    cache_control=params.get("CacheControl")
                    if replace_meta
                    else src_info.cache_control,
                )
        return self.head(destination)

    def _multipart_copy(self, params: dict[str, Any], destination: str, *, if_absent: bool) -> None:
        """boto3's managed copy: CreateMultipartUpload, UploadPartCopy for each range (the
        source ETag pinned on each), CompleteMultipartUpload. No store takes a create-only
        condition on a multipart copy, so ``if_absent`` is a HEAD first here."""
        if if_absent and self.flavor != "generic" and self.exists(destination):
            raise PreconditionFailedError(destination)
        skip = ("Bucket", "Key", "CopySource", "IfNoneMatch")
        extra = {k: v for k, v in params.items() if k not in skip}
        config = TransferConfig(
            multipart_threshold=self.multipart_copy_threshold,
            multipart_chunksize=self.copy_part_size,
        )
        self._client.copy(
            params["CopySource"], self.bucket, destination, ExtraArgs=extra, Config=config
        )

    def _source_changed(self, exc: ClientError, source: str, seen: ObjectInfo) -> bool:
        """After a 412 on a copy pinned to the source's ETag: whether that pin failed."""
        if not precondition_failed(exc):
            return False
        try:
            return self.head(source).etag != seen.etag
        except ObjectNotFoundError:
            return True

    def _copied_by_a_retry(
        self, exc: ClientError, destination: str, source: ObjectInfo
    ) -> ObjectInfo | None:
        """After a 412 on a *repeated* create-only copy: the destination, when it holds the
        source's bytes (an earlier attempt of this call made it, its answer lost); else None.
        """
        attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)
        if attempts == 0 or not precondition_failed(exc):
            return None
        try:
            info = self.head(destination)
        except ObjectNotFoundError:
            return None
        if source.md5 is not None and info.size == source.size and info.md5 == source.md5:
            return info
        return None

    def check_reachable(self, probe_key: str) -> None:
        """The HEAD of ``probe_key``; when it says "not found", a HeadBucket tells whether the
        bucket is there at all (a misspelt ``R2_BUCKET_NAME`` answered every HEAD with a 404,
        so the store looked up). A HeadBucket refused for lack of a permission proves
        nothing against a store that answered the HEAD."""
        try:
            self.head(probe_key)
            return
        except ObjectNotFoundError:
            pass
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code, status = boto_error_code(exc)
            if status == 404 or code in ("NoSuchBucket", "NotFound", "404"):
                raise BucketNotFoundError.from_cause(f"NoSuchBucket: {self.bucket}") from None
        except BotoCoreError as exc:
            raise StoreUnavailableError.from_cause(exc) from exc

    # -- deletes ---------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        key = validate_key(key)
        # DeleteObject through boto3: idempotent, so retried after resets and lost answers.
        with contextlib.suppress(ObjectNotFoundError), translated(key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        failures: list[DeleteFailure] = []
        batch: list[str] = []
        for key in keys:
            try:
                batch.append(validate_key(key))
            except InvalidKeyError as exc:
                failures.append(DeleteFailure(str(key), str(exc)))
            if len(batch) == PAGE:
                failures.extend(self._delete_batch(batch))
                batch = []
        if batch:
            failures.extend(self._delete_batch(batch))
        return failures

    def _delete_batch(self, keys: list[str]) -> list[DeleteFailure]:
        try:
            response = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
        except (ClientError, BotoCoreError) as exc:
            failure = StoreUnavailableError.from_cause(exc)
            return [DeleteFailure(k, f"batch delete failed: {failure.reason}") for k in keys]
        # A 200 answer may still carry per-key errors; boto3 does not raise for them.
        return [
            DeleteFailure(str(e.get("Key", "")), f"{e.get('Code', '')}: {e.get('Message', '')}")
            for e in response.get("Errors", [])
        ]

    # -- presigning ------------------------------------------------------------------------

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
        key = validate_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        headers: dict[str, str] = {}
        if content_type is not None:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        if content_length is not None:
            params["ContentLength"] = content_length
            headers["Content-Length"] = str(content_length)
        if if_absent:
            params["IfNoneMatch"] = "*"
            headers["If-None-Match"] = "*"
        url = self._client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
        )
        return PresignedRequest(url, "PUT", headers, expires_in)

    def presign_get(self, key: str, *, expires_in: int) -> PresignedRequest:
        key = validate_key(key)
        url = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return PresignedRequest(url, "GET", {}, expires_in)

    def close(self) -> None:
        self._client.close()
