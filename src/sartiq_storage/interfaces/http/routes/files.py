"""``GET /files/{file_path}``: the platform's stable file URL, answered with a 302.

The hot path does no I/O: it validates the path and builds the target URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from sartiq_storage.adapters.media_probe import MediaProbeError
from sartiq_storage.core.errors import ObjectNotFoundError
from sartiq_storage.interfaces.http.auth import ContextDep
from sartiq_storage.interfaces.http.responses import NOSNIFF, object_headers, object_response
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.delivery import DERIVED_ROUTE, is_video_key

router = APIRouter(tags=["files"])
_ALLOWED_QUERY = {"type"}


@router.get(
    "/files/{file_path:key}",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Redirect to the file (or its converted form)"}},
)
async def files(  # documents the contract; interfaces/http/fast_files.py serves it
    file_path: str,
    request: Request,
    context: ContextDep,
    type: Annotated[str | None, Query(description="webp, jpeg, png, avif, gif or auto")] = None,
) -> Response:
    unknown = set(request.query_params) - _ALLOWED_QUERY
    if unknown:
        raise HTTPException(422, f"unknown query parameters: {', '.join(sorted(unknown))}")
    target = context.delivery.redirect(file_path, type, request.headers.get("accept"))
    headers = {"Cache-Control": target.cache_control, **NOSNIFF}
    if target.vary:
        headers["Vary"] = target.vary
    return RedirectResponse(target.location, status_code=302, headers=headers)


@router.api_route(
    DERIVED_ROUTE + "/{fmt}/{file_path:key}", methods=["GET", "HEAD"], include_in_schema=False
)
async def derived(fmt: str, file_path: str, request: Request, context: ContextDep) -> Response:
    """A converted image, made once and cached; immutable, with ETag and ranges.

    The source is HEADed first (a deleted source is a 404 from every process); the
    derivative, keyed by the source's ETag, is then served straight away, and made only when
    the store does not have it (first request, or swept since).
    """
    try:
        source, key = await run_in_threadpool(context.delivery.derivative_for, file_path, fmt)
        try:
            return await _serve_derivative(context, request, key)
        except ObjectNotFoundError:
            if is_video_key(source.key) or not _plain_get(request):
                await run_in_threadpool(context.delivery.make, source, fmt)
                return await _serve_derivative(context, request, key)
            made = await run_in_threadpool(context.delivery.made, source, fmt)
            if made is None:  # another request made it meanwhile
                return await _serve_derivative(context, request, key)
            info, data = made  # answered from the bytes just stored: no second read
            headers = object_headers(info, key, None)
            return Response(data, headers=headers, media_type=info.content_type)
    except MediaProbeError as exc:  # a bomb 422, a timeout 503, unreadable bytes 415
        raise HTTPException(exc.status, str(exc)) from None


def _plain_get(request: Request) -> bool:
    """A whole-body GET with no conditions: what a fresh derivative can answer from memory."""
    headers = request.headers
    return request.method == "GET" and "range" not in headers and "if-none-match" not in headers


async def _serve_derivative(context: StorageContext, request: Request, key: str) -> Response:
    return await object_response(
        context.store,
        key,
        request,
        cache_control=None,
        head_only=request.method == "HEAD",
    )
