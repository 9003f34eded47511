"""``GET /api/v1/storage/health`` (JSON) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sartiq_storage.interfaces.http.auth import ContextDep
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.health import storage_health

router = APIRouter(tags=["health"])


@router.get("/api/v1/storage/health")
async def health(context: ContextDep) -> dict[str, Any]:
    """Dead-letter depth, pending deletions, unclaimed uploads, the last scan and sweep."""
    return await run_in_threadpool(storage_health, context)


class StorageCollector(Collector):
    """Reads the health figures at scrape time (no background thread, no stale cache)."""

    def __init__(self, context: StorageContext) -> None:
        self.context = context

    def collect(self) -> Iterator[Any]:
        health = storage_health(self.context)
        gauges = {
            "sartiq_storage_dead_letters": (
                health["dead_letters"]["count"],
                "Failed deletions waiting",
            ),
            "sartiq_storage_dead_letters_exhausted": (
                health["dead_letters"]["exhausted"],
                "Dead letters past their automatic retries",
            ),
            "sartiq_storage_outbox_pending": (health["outbox_pending"], "Deletions not yet run"),
            "sartiq_storage_unclaimed_uploads": (
                health["unclaimed_uploads"]["url_expired"],
                "Presigned uploads whose URL expired without an ingest",
            ),
            "sartiq_storage_temp_past_retention": (
                health["temp_past_retention"],
                "temp/ objects past retention at the last sweep",
            ),
            "sartiq_storage_orphan_objects": (
                health["orphans"]["objects"],
                "media/ objects without a row at the last scan",
            ),
            "sartiq_storage_missing_objects": (
                health["orphans"]["missing_objects"],
                "Rows whose object was missing at the last scan",
            ),
            "sartiq_storage_unattached_resources": (
                health["orphans"]["unattached_resources"],
                "Unattached resources past the grace at the last scan",
            ),
        }
        for name, (value, doc) in gauges.items():
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))
        yield CounterMetricFamily(
            "sartiq_storage_deletions",
            "Objects deleted by this process",
            value=health["deletions"]["done"],
        )
        yield CounterMetricFamily(
            "sartiq_storage_deletions_failed",
            "Object deletions that failed in this process",
            value=health["deletions"]["failed"],
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, context: ContextDep) -> Response:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StorageCollector(context))
        request.app.state.metrics_registry = registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
