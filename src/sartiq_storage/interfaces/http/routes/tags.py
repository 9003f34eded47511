"""``/api/v1/tags/``: tag CRUD, owned by the caller (the token's ``sub``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from sartiq_storage.interfaces.http.auth import ContextDep, MediaReadDep, MediaWriteDep
from sartiq_storage.interfaces.http.schemas import TagCreate, TagPublic, TagUpdate

router = APIRouter(prefix="/api/v1/tags", tags=["tags"])


@router.post("/", status_code=201)
async def create_tag(
    body: TagCreate,
    context: ContextDep,
    caller: MediaWriteDep,
    organization_id: uuid.UUID | None = None,
) -> TagPublic:
    tag = await run_in_threadpool(
        context.tags.create,
        caller.subject,
        body.name,
        color=body.color,
        description=body.description,
        organization_id=organization_id,
    )
    return TagPublic.of(tag)


@router.get("/")
async def list_tags(
    context: ContextDep, caller: MediaReadDep, organization_id: uuid.UUID | None = None
) -> list[TagPublic]:
    tags = await run_in_threadpool(context.tags.list_for, caller.subject, organization_id)
    return [TagPublic.of(t) for t in tags]


@router.get("/{tag_id}")
async def get_tag(tag_id: uuid.UUID, context: ContextDep, caller: MediaReadDep) -> TagPublic:
    return TagPublic.of(await run_in_threadpool(context.tags.get, tag_id, caller.subject))


@router.put("/{tag_id}")
async def update_tag(
    tag_id: uuid.UUID, body: TagUpdate, context: ContextDep, caller: MediaWriteDep
) -> TagPublic:
    values = body.model_dump(exclude_unset=True)
    return TagPublic.of(
        await run_in_threadpool(lambda: context.tags.update(tag_id, caller.subject, **values))
    )


@router.delete("/{tag_id}", status_code=204)
async def delete_tag(tag_id: uuid.UUID, context: ContextDep, caller: MediaWriteDep) -> Response:
    await run_in_threadpool(context.tags.delete, tag_id, caller.subject)
    return Response(status_code=204)
