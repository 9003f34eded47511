"""``GET /api/v1/storage/health`` (JSON) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sartiq_storage.interfaces.http.auth import ContextDep
from sartiq_storage.interfaces.http.lakefs.traffic import TRAFFIC
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.health import StoreProbe, storage_health

router = APIRouter(tags=["health"])
STATUSES = ("ok", "degraded", "down")


def store_probe(request: Request, context: StorageContext) -> StoreProbe:
    """One probe per app, shared by the health route and the metrics, so both stay cheap."""
    probe: StoreProbe | None = getattr(request.app.state, "store_probe", None)
    if probe is None:
        probe = request.app.state.store_probe = StoreProbe(context.store)
    return probe


@router.get(
    "/api/v1/storage/health",
    responses={503: {"description": "down: the store or the database does not answer"}},
)
async def health(request: Request, context: ContextDep) -> JSONResponse:
    """``ok``, ``degraded`` or ``down`` (503) with the reasons; dead-letter depth, pending
    deletions, unclaimed uploads, the last scan and sweep."""
    body = await run_in_threadpool(storage_health, context, store_probe(request, context))
    return JSONResponse(body, status_code=503 if body["status"] == "down" else 200)


class StorageCollector(Collector):
    """Reads the health figures at scrape time (no background thread; the store probe is
    the health route's, remembered a few seconds)."""

    def __init__(self, context: StorageContext, probe: StoreProbe) -> None:
        self.context = context
        self.probe = probe

    def collect(self) -> Iterator[Any]:
        health = storage_health(self.context, self.probe)
        status = GaugeMetricFamily(
            "sartiq_storage_health_status",
            "1 for the current health status (ok, degraded, down), 0 for the others",
            labels=["status"],
        )
        for name in STATUSES:
            status.add_metric([name], 1.0 if health["status"] == name else 0.0)
        yield status
        gauges = {
            "sartiq_storage_store_up": (
                health["store"]["up"],
                "Whether the object store answered the last health probe",
            ),
            "sartiq_storage_database_up": (
                health["database"]["up"],
                "Whether the database answered",
            ),
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
                "Objects past retention at the last sweep",
            ),
            "sartiq_storage_ttl_breaches": (
                health["ttl_breaches"],
                "Objects past retention still stored after the last sweep",
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
        yield CounterMetricFamily(
            "sartiq_storage_lakefs_object_bytes_received",
            "Object bytes uploaded through the lakeFS API itself (not pre-signed)",
            value=TRAFFIC.received,
        )
        yield CounterMetricFamily(
            "sartiq_storage_lakefs_object_bytes_sent",
            "Object bytes downloaded through the lakeFS API itself (not pre-signed)",
            value=TRAFFIC.sent,
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, context: ContextDep) -> Response:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StorageCollector(context, store_probe(request, context)))
        request.app.state.metrics_registry = registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
