"""Liveness: is the process up and which store does it use."""

from __future__ import annotations

from fastapi import APIRouter

from sartiq_storage import __version__
from sartiq_storage.interfaces.http.auth import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(context: ContextDep) -> dict[str, str]:
    settings = context.settings
    return {
        "status": "ok",
        "version": __version__,
        "environment": settings.ENVIRONMENT.value,
        "backend": settings.backend.value,
    }
