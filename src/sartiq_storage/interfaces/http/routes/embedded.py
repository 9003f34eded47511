"""The embedded backend's own upload and download target.

With R2 or S3 the browser talks to the bucket. With the embedded backend it talks to these
routes instead, under the same rules the bucket would apply to a presigned URL: the signature,
expiry, content type, exact length and create-only are all checked here.
"""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sartiq_storage.adapters.stores import DATASETS_ZONE, ObjectStore
from sartiq_storage.core.config import MAX_SIGNED_PUT_BYTES, MAX_UPLOAD_BYTES
from sartiq_storage.core.multipart import MAX_PART_BYTES
from sartiq_storage.core.signing import (
    OBJECT_ROUTE,
    PART_ROUTE,
    SignatureError,
    SignedGrant,
    UrlSigner,
)
from sartiq_storage.core.urls import PUBLIC_ROUTE
from sartiq_storage.core.validation import validate_key
from sartiq_storage.interfaces.http.auth import ContextDep
from sartiq_storage.interfaces.http.gate import body_limit
from sartiq_storage.interfaces.http.responses import object_response
from sartiq_storage.services.context import StorageContext

router = APIRouter(include_in_schema=False)
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _store_of(context: StorageContext, grant: SignedGrant) -> ObjectStore:
    """The store a verified URL is for: the content store, or the datasets folder (the
    ``datasets`` zone, where lakeFS's pre-signed reads and writes go on the embedded default)."""
    if grant.zone is None:
        return context.store
    stores = getattr(context.datasets, "stores", None)
    if grant.zone == DATASETS_ZONE and stores is not None and stores.datasets is not stores.home:
        return stores.datasets  # type: ignore[no-any-return]
    raise HTTPException(404, f"no store for zone {grant.zone!r} here")


def _signer(context: StorageContext) -> UrlSigner:
    if context.signer is None:
        raise HTTPException(404, "this service is not the object store; use the bucket's URLs")
    return context.signer


@router.put(OBJECT_ROUTE + "{key:key}")
@body_limit(MAX_SIGNED_PUT_BYTES)
async def signed_put(key: str, request: Request, context: ContextDep) -> Response:
    key = validate_key(key)
    try:
        grant = _signer(context).verify("PUT", key, dict(request.query_params))
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None
    if grant.upload_id is not None:
        raise HTTPException(403, "a part's URL uploads a part, not an object")
    content_type = request.headers.get("content-type")
    if grant.content_type is not None and content_type != grant.content_type:
        raise HTTPException(403, f"Content-Type must be {grant.content_type!r} as signed")
    declared = request.headers.get("content-length")
    if grant.content_length is not None and declared != str(grant.content_length):
        raise HTTPException(403, f"Content-Length must be {grant.content_length} as signed")
    # The grant sets the limit (checked before any byte is read): its exact length, else its
    # cap (dataset objects, up to MAX_SIGNED_PUT_BYTES), else the media upload limit.
    limit = (
        grant.content_length
        if grant.content_length is not None
        else min(grant.max_length or MAX_UPLOAD_BYTES, MAX_SIGNED_PUT_BYTES)
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body is larger than {limit} bytes")
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, f"body is larger than {limit} bytes")
            spool.write(chunk)
        if grant.content_length is not None and received != grant.content_length:
            raise HTTPException(400, "body length does not match the signed Content-Length")
        spool.seek(0)
        result = await run_in_threadpool(
            _store_of(context, grant).put,
            key,
            spool,
            content_type=content_type,
            cache_control="no-store" if key.startswith("temp/") else None,
            if_absent=grant.if_absent,
        )
    return JSONResponse(
        {"key": result.key, "size": result.size}, headers={"ETag": f'"{result.etag}"'}
    )


@router.put(PART_ROUTE + "{key:key}")
@body_limit(MAX_PART_BYTES)
async def signed_part_put(key: str, request: Request, context: ContextDep) -> Response:
    """One part of a multipart upload (S3's ``UploadPart``), streamed to a temporary file in
    its upload's folder and renamed into place: whole or absent, never in memory."""
    key = validate_key(key)
    try:
        grant = _signer(context).verify("PUT", key, dict(request.query_params))
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None
    if grant.upload_id is None or grant.part_number is None:
        raise HTTPException(403, "this URL is not one of a multipart upload's parts")
    store = _store_of(context, grant)
    limit = await run_in_threadpool(_part_limit, store, key, grant)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, _too_large(limit))
    # Straight to disk (a part may be gigabytes): memory holds one chunk of it at a time.
    with tempfile.TemporaryFile() as spool:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, _too_large(limit))
            spool.write(chunk)
        spool.seek(0)
        part = await run_in_threadpool(
            store.upload_part,
            key,
            grant.upload_id,
            grant.part_number,
            spool,
        )
    return JSONResponse(
        {"partNumber": part.part_number, "size": part.size}, headers={"ETag": f'"{part.etag}"'}
    )


def _part_limit(store: ObjectStore, key: str, grant: SignedGrant) -> int:
    """The most bytes this part may carry: S3's 5 GiB, and no more than what the upload's
    signed total (its declared size or its type's cap) leaves beside its other parts. Parts
    sent at the same moment each see the others as they were: the total can pass by the
    parts in flight, no further (completion refuses it all the same)."""
    if grant.max_length is None:
        return MAX_PART_BYTES
    assert grant.upload_id is not None
    others = sum(
        part.size
        for part in store.list_parts(key, grant.upload_id)  # 404 for an upload that is gone
        if part.part_number != grant.part_number  # replaced by this one
    )
    return max(0, min(MAX_PART_BYTES, grant.max_length - others))


def _too_large(limit: int) -> str:
    return (
        f"this part may carry at most {limit} bytes: a part is at most {MAX_PART_BYTES}, "
        "and the upload's parts may not add up to more than its declared size or its cap"
    )


@router.get(OBJECT_ROUTE + "{key:key}")
async def signed_get(key: str, request: Request, context: ContextDep) -> Response:
    key = validate_key(key)
    try:
        grant = _signer(context).verify("GET", key, dict(request.query_params))
    except SignatureError as exc:
        raise HTTPException(403, str(exc)) from None
    return await object_response(
        _store_of(context, grant),
        key,
        request,
        cache_control="private, no-store",
    )


@router.api_route(PUBLIC_ROUTE + "/{key:key}", methods=["GET", "HEAD"])
async def public_get(key: str, request: Request, context: ContextDep) -> Response:
    """Public reads of the embedded store, as the CDN would serve the bucket."""
    _signer(context)
    key = validate_key(key)
    untrusted = key.startswith("temp/")
    return await object_response(
        context.store,
        key,
        request,
        cache_control="no-store" if untrusted else None,
        head_only=request.method == "HEAD",
    )
