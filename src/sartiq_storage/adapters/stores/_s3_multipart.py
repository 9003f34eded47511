"""The S3 backend's multipart uploads, through boto3 (R2, AWS S3, MinIO, SeaweedFS, moto).

The bucket does the work: parts go straight to it (server-side with ``upload_part``, or from
the browser with a presigned ``UploadPart`` URL), it lists them, assembles them on
``CompleteMultipartUpload`` and drops them on abort or after the lifecycle rule's day
(``AbortIncompleteMultipartUpload``). Completing first checks the client's part list against
the bucket's own listing, so a wrong ETag or a short part is refused with the same clear
message on every backend, whatever the server's own wording.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sartiq_storage.adapters.stores._common import iter_body
from sartiq_storage.adapters.stores._s3_errors import boto_error_code, translated
from sartiq_storage.adapters.stores.base import Body, ObjectInfo, ObjectStore, PresignedRequest
from sartiq_storage.core.errors import (
    InvalidUploadError,
    StoreUnavailableError,
    UploadNotFoundError,
)
from sartiq_storage.core.multipart import (
    MAX_PART_BYTES,
    UploadedPart,
    check_completion,
    check_part_number,
    normalize_part_etag,
)
from sartiq_storage.core.validation import validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_REFUSED_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge"})


@contextlib.contextmanager
def _upload_call(key: str, upload_id: str) -> Iterator[None]:
    """boto3's failures on one upload: ``NoSuchUpload`` and refused parts in our words."""
    try:
        yield
    except ClientError as exc:
        code, status = boto_error_code(exc)
        if code == "NoSuchUpload" or (status == 404 and code != "NoSuchBucket"):
            raise UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}") from None
        if code in _REFUSED_PARTS:
            raise InvalidUploadError(f"the store refused the parts: {code}") from None
        with translated(key):
            raise
    except BotoCoreError as exc:
        raise StoreUnavailableError.from_cause(exc) from exc


class S3Multipart(ObjectStore):
    """Multipart uploads on one bucket; mixed into :class:`S3Store` (its boto3 client)."""

    bucket: str
    _client: S3Client

    def create_multipart(
        self, key: str, *, content_type: str, cache_control: str | None = None
    ) -> str:
        key = validate_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if cache_control:
            params["CacheControl"] = cache_control
        with translated(key):
            answer = self._client.create_multipart_upload(**params)
        return str(answer["UploadId"])

    def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> UploadedPart:
        key = validate_key(key)
        check_part_number(part_number)
        data = body if isinstance(body, bytes) else b"".join(iter_body(body))
        if len(data) > MAX_PART_BYTES:
            raise InvalidUploadError(f"a part is at most {MAX_PART_BYTES} bytes")
        with _upload_call(key, upload_id):
            answer = self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data
            )
        return UploadedPart(part_number, normalize_part_etag(answer["ETag"]), len(data))

    def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_total: int | None = None,  # no S3 URL can carry it (ObjectStore's docstring)
    ) -> PresignedRequest:
        key = validate_key(key)
        check_part_number(part_number)
        url = self._client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
            },
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return PresignedRequest(url, "PUT", {}, expires_in)

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        key = validate_key(key)
        # By number: SeaweedFS lists a part uploaded twice twice; the newer one is the part.
        parts: dict[int, tuple[UploadedPart, Any]] = {}
        marker = 0
        while True:
            with _upload_call(key, upload_id):
                page = self._client.list_parts(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumberMarker=marker,
                    MaxParts=1000,
                )
            for part in page.get("Parts", []):
                number = int(part["PartNumber"])
                when = part.get("LastModified")
                known = parts.get(number)
                if known is None or (
                    when is not None and known[1] is not None and when >= known[1]
                ):
                    etag = normalize_part_etag(str(part["ETag"]))
                    parts[number] = (UploadedPart(number, etag, int(part["Size"])), when)
            following = int(page.get("NextPartNumberMarker") or 0)
            if not page.get("IsTruncated") or following <= marker:
                return [part for _, (part, _) in sorted(parts.items())]
            marker = following

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        key = validate_key(key)
        chosen = check_completion(parts, self.list_parts(key, upload_id))
        with _upload_call(key, upload_id):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.part_number, "ETag": f'"{p.etag}"'} for p in chosen]
                },
            )
        return self.head(key)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        key = validate_key(key)
        with contextlib.suppress(UploadNotFoundError), _upload_call(key, upload_id):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
