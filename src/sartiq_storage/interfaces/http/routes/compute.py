"""``/api/v1/storage/images``: the compute server's storage API (``platform.md`` §6).

Every route takes the bearer token, reads included, as the platform's ``HTTPBearer`` does;
what anyone may open is the ``url`` each answer carries (the CDN, or ``/_storage/public`` on
the embedded store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import ObjectNotFoundError, UploadTooLargeError
from sartiq_storage.interfaces.http.auth import ComputeDep, ContextDep
from sartiq_storage.interfaces.http.gate import MULTIPART_SLACK_BYTES, body_limit
from sartiq_storage.interfaces.http.responses import (
    NOSNIFF,
    object_response,
    stored_bytes_headers,
)
from sartiq_storage.services.compute import API_ROUTE

router = APIRouter(prefix=API_ROUTE, tags=["compute storage"])
CallerDep = ComputeDep
"""Every route here that takes a token needs the ``compute`` scope."""


class ImagePublic(BaseModel):
    path: str
    url: str
    size: int


class ImageList(BaseModel):
    images: list[ImagePublic]
    prefix: str
    limit: int


@router.get("")
async def list_images(
    context: ContextDep,
    caller: CallerDep,
    prefix: str = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ImageList:
    items = await run_in_threadpool(lambda: list(context.compute.list(prefix, limit)))
    return ImageList(
        images=[ImagePublic(path=i.path, url=i.url, size=i.size) for i in items],
        prefix=prefix,
        limit=limit,
    )


@router.get("/{path:key}")
async def get_image(
    path: str, request: Request, context: ContextDep, caller: CallerDep
) -> Response:
    """R2: 302 to the CDN. Embedded store: the bytes themselves."""
    compute = context.compute
    key = compute.key_for(path)
    if not compute.served_by_api:
        return RedirectResponse(compute.public_url(path), status_code=302, headers=NOSNIFF)
    return await object_response(
        context.store,
        key,
        request,
        cache_control=None,
    )


@router.head("/{path:key}")
async def head_image(path: str, context: ContextDep, caller: CallerDep) -> Response:
    """200 with the size and type, or 404. (Its own route: one OpenAPI operation id each.)"""
    key = context.compute.key_for(path)
    try:
        info = await run_in_threadpool(context.store.head, key)
    except ObjectNotFoundError:
        return Response(status_code=404)
    return Response(
        status_code=200,
        headers={
            "Content-Length": str(info.size),
            "Content-Type": info.content_type or "application/octet-stream",
            **stored_bytes_headers(info.content_type, key),
        },
    )


@router.post("/{path:key}", status_code=201)
@body_limit(MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES)
async def post_image(
    path: str,
    context: ContextDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="The image or video")],
) -> ImagePublic:
    context.compute.key_for(path)  # refuse a bad path before reading the body
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLargeError(f"file is over the {MAX_UPLOAD_BYTES} byte limit")
    stored = await run_in_threadpool(context.compute.save, path, data)
    return ImagePublic(path=stored.path, url=stored.url, size=stored.size)


@router.delete("/{path:key}", status_code=204)
async def delete_image(path: str, context: ContextDep, caller: CallerDep) -> Response:
    await run_in_threadpool(context.compute.delete, path)
    return Response(status_code=204)
