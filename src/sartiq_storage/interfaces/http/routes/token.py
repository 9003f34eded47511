"""``GET /api/v1/token``: who the bearer token names and what it may do (for the console)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sartiq_storage.core.tokens import SCOPES
from sartiq_storage.interfaces.http.auth import CallerDep

router = APIRouter(prefix="/api/v1/token", tags=["token"])


class TokenInfo(BaseModel):
    subject: str
    scopes: list[str] = Field(
        description="What this token may do (a token without a scope claim: all)"
    )


@router.get("")
async def token_info(caller: CallerDep) -> TokenInfo:
    """Any valid token may ask; the console shows only what these scopes allow."""
    return TokenInfo(subject=caller.subject, scopes=[s for s in SCOPES if caller.allows(s)])
