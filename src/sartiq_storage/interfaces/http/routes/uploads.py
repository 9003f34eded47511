"""``POST /api/v1/uploads/presigned-url``: where the browser's direct upload goes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from sartiq_storage.interfaces.http.auth import ContextDep, UploadsDep
from sartiq_storage.interfaces.http.schemas import Projection, Strict

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


class PresignBody(Strict):
    filename: str = Field(min_length=1, max_length=1024)
    content_type: str = Field(min_length=1, max_length=127)
    size: int | None = Field(default=None, description="Bytes; binds the upload's length")


class PresignResponse(Projection):
    upload_url: str
    file_url: str
    upload_method: str
    upload_headers: dict[str, str] = Field(
        description="Headers the PUT must carry exactly (they are part of the signature)"
    )
    expires_in_seconds: int
    max_file_size: int


@router.post("/presigned-url")
async def presigned_url(
    body: PresignBody, context: ContextDep, caller: UploadsDep
) -> PresignResponse:
    """A presigned PUT into ``temp/``; the returned ``file_url`` is what ingestion takes."""
    upload = await context.uploads.presign_async(
        body.filename, body.content_type, body.size, requester=caller.subject
    )
    return PresignResponse.of(upload)
