"""``/api/v1/operations``: what an operator watches and retries, as JSON for the console.

Dead letters (list, retry now), the last orphan report and lifecycle drift. The same figures
as the CLI's ``deadletters``, ``orphans scan`` and ``lifecycle check``, read through
``services/operations.py``; storage health stays at the public ``/api/v1/storage/health``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sartiq_storage.interfaces.http.auth import ContextDep, OpsDep
from sartiq_storage.interfaces.http.schemas import Strict
from sartiq_storage.services.operations import (
    DeadLetterList,
    RetryReport,
    dead_letters,
    last_orphan_report,
    lifecycle_drift,
    retry_now,
)

router = APIRouter(prefix="/api/v1/operations", tags=["operations"])


class RetryBody(Strict):
    storage_keys: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="These letters only (at least one); omitted: all of them",
    )


class OrphanReportPublic(BaseModel):
    report: dict[str, Any] | None = Field(
        description="The last scan's report (`_finished_at`, `_applied` added); null: none yet"
    )


@router.get("/dead-letters")
async def list_dead_letters(
    context: ContextDep,
    caller: OpsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> DeadLetterList:
    """Failed deletions, oldest first."""
    return await run_in_threadpool(dead_letters, context.db, limit=limit)


@router.post("/dead-letters/retry")
async def retry_dead_letters(
    context: ContextDep, caller: OpsDep, body: RetryBody | None = None
) -> RetryReport:
    """Retry now, whatever the schedule (exhausted letters included); success removes them."""
    keys = body.storage_keys if body is not None else None
    return await run_in_threadpool(retry_now, context.media.deletions, keys)


@router.get("/orphans")
async def orphan_report(context: ContextDep, caller: OpsDep) -> OrphanReportPublic:
    """The last orphan scan (``sartiq-storage orphans scan`` or the worker's)."""
    return OrphanReportPublic(report=await run_in_threadpool(last_orphan_report, context.db))


@router.get("/lifecycle")
async def lifecycle(context: ContextDep, caller: OpsDep) -> dict[str, Any]:
    """The bucket's lifecycle and CORS rules against the policy (``lifecycle plan --json``)."""
    return await run_in_threadpool(lifecycle_drift, context)
