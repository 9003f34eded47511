"""``/api/v1/uploads/s3/multipart``: multipart uploads, as Uppy's ``@uppy/aws-s3`` asks for them.

The paths, query parameters and JSON shapes are Companion's (Uppy's server), so Uppy takes
``companionUrl`` (``companionEndpoint`` from v5) = ``{service}/api/v1/uploads`` unchanged;
the mapping and our additions are in docs/uploads.md. Every step needs the ``uploads`` scope
and works only on an upload its own caller started.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.errors import InvalidMediaInputError
from sartiq_storage.core.multipart import MAX_PARTS, UploadedPart, parse_part_numbers
from sartiq_storage.interfaces.http.auth import ContextDep, UploadsDep
from sartiq_storage.interfaces.http.schemas import Strict

router = APIRouter(prefix="/api/v1/uploads/s3/multipart", tags=["uploads"])

KeyQuery = Annotated[
    str, Query(min_length=1, max_length=1024, description="The key the create step answered")
]
BATCH_LIMIT = 1000
"""Part numbers one batch may sign."""


class CreateBody(BaseModel):
    """Companion's ``createMultipartUpload`` body, plus the optional ``size``."""

    model_config = ConfigDict(extra="ignore")

    filename: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=127, description="The file's content type")
    metadata: dict[str, Any] = Field(default_factory=dict)
    size: int | None = Field(
        default=None, description="Bytes; checked against the cap now (else at completion)"
    )

    def declared_size(self) -> int | None:
        """``size``, or ``metadata.size`` (what an Uppy app can add to a file's meta)."""
        if self.size is not None:
            return self.size
        raw = self.metadata.get("size")
        if raw is None:
            return None
        try:
            return int(str(raw))
        except ValueError:
            raise InvalidMediaInputError("metadata.size must be a whole number of bytes") from None


class CreateResponse(BaseModel):
    key: str
    uploadId: str
    partSize: int
    maxParts: int
    maxFileSize: int
    expiresInSeconds: int
    fileUrl: str = Field(description="What ingestion takes once the upload is complete")


class PartRow(BaseModel):
    PartNumber: int
    ETag: str
    Size: int

    @classmethod
    def of(cls, part: UploadedPart) -> PartRow:
        return cls(PartNumber=part.part_number, ETag=f'"{part.etag}"', Size=part.size)


class SignedPart(BaseModel):
    url: str
    expires: int = Field(description="Seconds the URL lives")
    headers: dict[str, str] = Field(default_factory=dict)


class SignedBatch(BaseModel):
    presignedUrls: dict[str, str]
    expires: int


class CompletePart(Strict):
    # Range and emptiness are the completion's rules (400, the upload aborted: a refused
    # completion leaves nothing), not the body's shape (422).
    PartNumber: int = Field(description="1 to 10,000, ascending")
    ETag: str = Field(min_length=1, max_length=128)


class CompleteBody(Strict):
    parts: list[CompletePart] = Field(max_length=MAX_PARTS, description="at least one")


class CompleteResponse(BaseModel):
    location: str
    key: str
    fileUrl: str
    size: int


@router.post("")
async def create_multipart_upload(
    body: CreateBody, context: ContextDep, caller: UploadsDep
) -> CreateResponse:
    """Start a multipart upload into ``temp/`` (Companion's ``createMultipartUpload``)."""
    upload = await run_in_threadpool(
        context.multipart.create,
        body.filename,
        body.type,
        body.declared_size(),
        requester=caller.subject,
    )
    return CreateResponse(
        key=upload.storage_key,
        uploadId=upload.upload_id,
        partSize=upload.part_size,
        maxParts=upload.max_parts,
        maxFileSize=upload.max_file_size,
        expiresInSeconds=upload.expires_in_seconds,
        fileUrl=upload.file_url,
    )


@router.get("/{upload_id}")
async def list_parts(
    upload_id: str, key: KeyQuery, context: ContextDep, caller: UploadsDep
) -> list[PartRow]:
    """The parts stored so far (Companion's ``listParts``): what a resumed upload skips."""
    parts = await run_in_threadpool(
        context.multipart.list_parts, key, upload_id, requester=caller.subject
    )
    return [PartRow.of(part) for part in parts]


@router.get("/{upload_id}/batch")
async def sign_part_batch(
    upload_id: str,
    key: KeyQuery,
    partNumbers: Annotated[str, Query(min_length=1, max_length=60_000)],
    context: ContextDep,
    caller: UploadsDep,
) -> SignedBatch:
    """PUT URLs for several parts at once (Companion's batch ``signPart``)."""
    numbers = parse_part_numbers(partNumbers, BATCH_LIMIT)
    signed = await run_in_threadpool(
        context.multipart.sign_parts, key, upload_id, numbers, requester=caller.subject
    )
    expires = min((request.expires_in for request in signed.values()), default=0)
    return SignedBatch(
        presignedUrls={str(n): request.url for n, request in signed.items()}, expires=expires
    )


@router.get("/{upload_id}/{part_number}")
async def sign_part(
    upload_id: str, part_number: str, key: KeyQuery, context: ContextDep, caller: UploadsDep
) -> SignedPart:
    """A PUT URL for one part (Companion's ``signPart``); its answer's ETag is the part's."""
    (number,) = parse_part_numbers(part_number, 1)  # not a number: 400, as in a batch
    signed = await run_in_threadpool(
        context.multipart.sign_parts, key, upload_id, [number], requester=caller.subject
    )
    request = signed[number]
    return SignedPart(url=request.url, expires=request.expires_in, headers=request.headers)


@router.post("/{upload_id}/complete")
async def complete_multipart_upload(
    upload_id: str, key: KeyQuery, body: CompleteBody, context: ContextDep, caller: UploadsDep
) -> CompleteResponse:
    """Assemble the parts (Companion's ``completeMultipartUpload``); a refused list aborts."""
    parts = [(part.PartNumber, part.ETag) for part in body.parts]
    done = await run_in_threadpool(
        context.multipart.complete, key, upload_id, parts, requester=caller.subject
    )
    return CompleteResponse(
        location=done.file_url, key=done.storage_key, fileUrl=done.file_url, size=done.size
    )


@router.delete("/{upload_id}")
async def abort_multipart_upload(
    upload_id: str, key: KeyQuery, context: ContextDep, caller: UploadsDep
) -> dict[str, str]:
    """Drop the upload and its parts (Companion's ``abortMultipartUpload``)."""
    await run_in_threadpool(context.multipart.abort, key, upload_id, requester=caller.subject)
    return {}
