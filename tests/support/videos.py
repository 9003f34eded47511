"""Big-video helpers: a store that cuts a read (on ``ReadCountingStore``, which records how
much each read holds: ``sartiq_storage.testing.stores``), a multipart upload
with boto3 (an ETag ``…-N``), and a check that bytes decode as an image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyvips

from sartiq_storage.adapters.stores import ObjectStore, ObjectStream
from sartiq_storage.core.errors import StoreUnavailableError
from sartiq_storage.testing.stores import ReadCountingStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class CutReadStore(ReadCountingStore):
    """Wraps a real store; a whole-object GET (no range) is cut after ``after`` bytes, as a
    dropped connection would be: the bytes so far, then :class:`StoreUnavailableError`.
    Ranged GETs, copies and the rest pass through."""

    def __init__(self, inner: ObjectStore, after: int) -> None:
        super().__init__(inner)
        self.after = after

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        stream = super().get(key, start=start, end=end)
        if start is not None or end is not None:
            return stream

        def cut() -> Iterator[bytes]:
            given = 0
            for chunk in stream:
                if given + len(chunk) > self.after:
                    raise StoreUnavailableError(f"{key}: connection reset (a test's cut)")
                given += len(chunk)
                yield chunk

        return ObjectStream(stream.info, cut(), stream.byte_range, [stream])


def multipart_put(
    client: S3Client, bucket: str, key: str, data: bytes, part_size: int = 5 * 1024 * 1024
) -> str:
    """``data`` uploaded in parts (as a browser's multipart upload does); its ETag, ``…-N``."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/mp4")
    parts = []
    for number, offset in enumerate(range(0, len(data), part_size), start=1):
        answer = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data[offset : offset + part_size],
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    done = client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return str(done["ETag"]).strip('"')


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of ``data`` decoded as an image (every pixel decoded)."""
    image = pyvips.Image.new_from_buffer(data, "")
    image.avg()  # decodes every pixel: a damaged image fails here
    return image.width, image.height
