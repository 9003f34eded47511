"""``/api/v1/operations``: what an operator watches and retries, as JSON for the console.

Dead letters (list, retry now), the last orphan report and lifecycle drift. The same figures
as the CLI's ``deadletters``, ``orphans scan`` and ``lifecycle check``, read through
``services/operations.py``; storage health stays at the public ``/api/v1/storage/health``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sartiq_storage.interfaces.http.auth import ContextDep, OpsDep
from sartiq_storage.interfaces.http.schemas import Strict
from sartiq_storage.services.operations import (
    dead_letters,
    last_orphan_report,
    lifecycle_drift,
    retry_now,
)

router = APIRouter(prefix="/api/v1/operations", tags=["operations"])


class DeadLetterPublic(BaseModel):
    storage_key: str
    attempts: int
    exhausted: bool = Field(description="Past its automatic retries: only a manual retry runs")
    error_message: str
    created_at: datetime
    last_attempted_at: datetime
    next_attempt_at: datetime


class DeadLetterList(BaseModel):
    items: list[DeadLetterPublic]
    total: int


class RetryBody(Strict):
    storage_keys: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="These letters only (at least one); omitted: all of them",
    )


class RetryReport(BaseModel):
    deleted: list[str]
    kept_referenced: list[str] = Field(description="Still used by a resource: kept, letter gone")
    failed: dict[str, str] = Field(description="Still failing (rescheduled), with the error")


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
    letters, total = await run_in_threadpool(dead_letters, context.db, limit=limit)
    return DeadLetterList(
        items=[
            DeadLetterPublic(
                storage_key=letter.storage_key,
                attempts=letter.attempts,
                exhausted=letter.exhausted,
                error_message=letter.error_message,
                created_at=letter.created_at,
                last_attempted_at=letter.last_attempted_at,
                next_attempt_at=letter.next_attempt_at,
            )
            for letter in letters
        ],
        total=total,
    )


@router.post("/dead-letters/retry")
async def retry_dead_letters(
    context: ContextDep, caller: OpsDep, body: RetryBody | None = None
) -> RetryReport:
    """Retry now, whatever the schedule (exhausted letters included); success removes them."""
    keys = body.storage_keys if body is not None else None
    report = await run_in_threadpool(retry_now, context.media.deletions, keys)
    return RetryReport(
        deleted=report.deleted, kept_referenced=report.kept_referenced, failed=report.failed
    )


@router.get("/orphans")
async def orphan_report(context: ContextDep, caller: OpsDep) -> OrphanReportPublic:
    """The last orphan scan (``sartiq-storage orphans scan`` or the worker's)."""
    return OrphanReportPublic(report=await run_in_threadpool(last_orphan_report, context.db))


@router.get("/lifecycle")
async def lifecycle(context: ContextDep, caller: OpsDep) -> dict[str, Any]:
    """The bucket's lifecycle and CORS rules against the policy (``lifecycle plan --json``)."""
    return await run_in_threadpool(lifecycle_drift, context)
