"""``/api/v1/media-resources``: ingest, read, list, detach, enrich, heal, tags."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.errors import StorageError
from sartiq_storage.interfaces.http.auth import (
    ContextDep,
    MediaReadDep,
    MediaWriteDep,
    OpsDep,
)
from sartiq_storage.interfaces.http.schemas import (
    AttachmentPublic,
    HealBody,
    HealReport,
    IngestBatchBody,
    IngestBatchItem,
    IngestBatchResponse,
    IngestBody,
    IngestResponse,
    IngestStorageKeyBody,
    MediaResourceDetail,
    MediaResourceList,
    MediaResourceMetadataUpdate,
    MediaResourcePublic,
    MediaResourceTagsPublic,
    TagIds,
    TagPublic,
)
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.service import AttachTo, IngestResult, MediaInput

router = APIRouter(prefix="/api/v1/media-resources", tags=["media-resources"])


def _ingest_response(context: StorageContext, result: IngestResult) -> IngestResponse:
    return IngestResponse(
        media_resource=MediaResourcePublic.of(result.resource, context.urls),
        attachment=AttachmentPublic.of(result.attachment) if result.attachment else None,
        created=result.created,
    )


@router.post("/ingest", status_code=201)
async def ingest(body: IngestBody, context: ContextDep, caller: MediaWriteDep) -> IngestResponse:
    """Turn an uploaded temp URL (or an existing resource id) into an attachment."""
    media, target = _media_input(body)
    result = await run_in_threadpool(context.media.ingest, media, target)
    return _ingest_response(context, result)


BATCH_CONCURRENCY = 8
"""Store round trips one batch overlaps (verification and promotion); the records are one
transaction whatever the concurrency."""


def _media_input(body: IngestBody) -> tuple[MediaInput, AttachTo]:
    media = MediaInput(
        url=body.media.url,
        media_resource_id=body.media.media_resource_id,
        width=body.media.width,
        height=body.media.height,
    )
    return media, AttachTo(body.entity_type, body.entity_id, body.slot, body.position)


def _batch_item(context: StorageContext, outcome: IngestResult | Exception) -> IngestBatchItem:
    if isinstance(outcome, IngestResult):
        answer = _ingest_response(context, outcome)
        return IngestBatchItem(status=201, **answer.model_dump())
    if isinstance(outcome, StorageError) and outcome.status < 500:
        return IngestBatchItem(status=outcome.status, detail=str(outcome))
    # A fault (store or database outage, a bug) fails the whole call as /ingest would: the
    # handlers log it and answer 5xx; the items recorded before it stay, and since every
    # ingest is idempotent the caller retries the batch as it is.
    raise outcome


@router.post("/ingest-batch")
async def ingest_batch(
    body: IngestBatchBody, context: ContextDep, caller: MediaWriteDep
) -> IngestBatchResponse:
    """Ingest several uploads in one call (a console drop, a generation's outputs): verified
    and promoted concurrently, recorded in one transaction, answered item by item."""
    items = [_media_input(item) for item in body.items]
    outcomes = await run_in_threadpool(
        context.media.ingest_each, items, concurrency=BATCH_CONCURRENCY
    )
    return IngestBatchResponse(results=[_batch_item(context, o) for o in outcomes])


@router.post("/ingest-storage-key", status_code=201)
async def ingest_storage_key(
    body: IngestStorageKeyBody, context: ContextDep, caller: MediaWriteDep
) -> IngestResponse:
    """Take an object already in the bucket (a ``compute/`` result…) into the media system."""
    target = None
    if body.entity_type and body.entity_id and body.slot:
        target = AttachTo(body.entity_type, body.entity_id, body.slot, body.position)
    result = await run_in_threadpool(
        context.media.ingest_from_storage_key,
        body.storage_key,
        relocate=body.relocate,
        target=target,
    )
    return _ingest_response(context, result)


@router.post("/heal")
async def heal(context: ContextDep, caller: OpsDep, body: HealBody | None = None) -> HealReport:
    """Repair missing objects (from known sources) and missing metadata; report the rest.

    No body: every resource, as a dry run (each field's default), as the dead-letter retry
    takes no body."""
    body = body if body is not None else HealBody()
    healer = Healer(context.db, context.store)
    result = await run_in_threadpool(healer.heal, body.media_resource_ids, dry_run=body.dry_run)
    return HealReport(
        dry_run=result.dry_run,
        checked=result.checked,
        fixed=result.fixed,
        unfixable=result.unfixable,
    )


@router.get("")
async def list_media_resources(
    context: ContextDep,
    caller: MediaReadDep,
    entity_type: Annotated[str | None, Query(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")] = None,
    entity_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> MediaResourceList:
    rows, total = await run_in_threadpool(
        context.media.list_resources,
        entity_type=entity_type,
        entity_id=entity_id,
        limit=limit,
        offset=offset,
    )
    return MediaResourceList(
        items=[MediaResourcePublic.of(r, context.urls) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{media_resource_id}")
async def get_media_resource(
    media_resource_id: uuid.UUID, context: ContextDep, caller: MediaReadDep
) -> MediaResourceDetail:
    resource = await run_in_threadpool(context.media.get, media_resource_id)
    attachments = await run_in_threadpool(context.media.attachments_of, media_resource_id)
    public = MediaResourcePublic.of(resource, context.urls)
    return MediaResourceDetail(
        **public.model_dump(), attachments=[AttachmentPublic.of(a) for a in attachments]
    )


@router.patch("/{media_resource_id}")
async def patch_media_resource(
    media_resource_id: uuid.UUID,
    body: MediaResourceMetadataUpdate,
    context: ContextDep,
    caller: MediaWriteDep,
) -> MediaResourcePublic:
    """Fill only fields that are still null; fields already set are silently kept."""
    values = body.model_dump(exclude_unset=True)
    resource = await run_in_threadpool(context.media.patch_metadata, media_resource_id, values)
    return MediaResourcePublic.of(resource, context.urls)


@router.delete("/attachments/{attachment_id}", status_code=204)
async def delete_attachment(
    attachment_id: uuid.UUID, context: ContextDep, caller: MediaWriteDep
) -> Response:
    """Detach; the resource and its object stay (they may be shared)."""
    await run_in_threadpool(context.media.detach, attachment_id)
    return Response(status_code=204)


# -- tags on a media resource ------------------------------------------------------------


def _tags(tags: list) -> MediaResourceTagsPublic:  # type: ignore[type-arg]
    return MediaResourceTagsPublic(tags=[TagPublic.of(t) for t in tags])


@router.get("/{media_resource_id}/tags/")
async def get_tags(
    media_resource_id: uuid.UUID, context: ContextDep, caller: MediaReadDep
) -> MediaResourceTagsPublic:
    return _tags(await run_in_threadpool(context.tags.tags_of, media_resource_id))


@router.post("/{media_resource_id}/tags/")
async def add_tags(
    media_resource_id: uuid.UUID, body: TagIds, context: ContextDep, caller: MediaWriteDep
) -> MediaResourceTagsPublic:
    """Assign tags, keeping those already assigned."""
    return _tags(
        await run_in_threadpool(
            context.tags.assign, media_resource_id, body.tag_ids, caller.subject
        )
    )


@router.put("/{media_resource_id}/tags/")
async def set_tags(
    media_resource_id: uuid.UUID, body: TagIds, context: ContextDep, caller: MediaWriteDep
) -> MediaResourceTagsPublic:
    """Replace the resource's tags with exactly these."""
    return _tags(
        await run_in_threadpool(
            context.tags.replace, media_resource_id, body.tag_ids, caller.subject
        )
    )


@router.delete("/{media_resource_id}/tags/")
async def remove_tags(
    media_resource_id: uuid.UUID, body: TagIds, context: ContextDep, caller: MediaWriteDep
) -> MediaResourceTagsPublic:
    return _tags(await run_in_threadpool(context.tags.remove, media_resource_id, body.tag_ids))
