"""Bearer tokens: HS256 JWTs signed with ``AUTH_JWT_SECRET``, as the platform issues them.

A token may carry a ``scope`` claim (OAuth 2's space-separated list, or a JSON list) naming
what it may do; a token without one may do everything (``docs/decisions.md``: the platform's
existing tokens carry none).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

from sartiq_storage.core.errors import StorageError

ALGORITHM = "HS256"

SCOPES: dict[str, str] = {
    "media:read": "read media resources, their attachments and tags",
    "media:write": "ingest, patch, detach; create, change and assign tags",
    "uploads": "presign browser uploads",
    "compute": "the compute server's storage (/api/v1/storage/images)",
    "ops": "dead letters, orphan reports, lifecycle drift, heal",
    "datasets:read": "the datasets view's reads (GET /api/v1/datasets)",
    "datasets:write": "dataset writes: branches, uploads, commits, merges, tags, protection",
}
"""Every scope a route can require, with what it grants."""
ALL_SCOPES = frozenset(SCOPES)


class TokenError(StorageError):
    """A token that is missing, malformed, forged or expired.

    The message is what the caller is told; ``cause`` is the library's own account, for the
    log only (it can quote the token's bytes and the library's internals).
    """

    status = 401

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class UnknownScopeError(StorageError, ValueError):
    """A scope name that no route requires."""

    status = 400


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request (the token's ``sub``) and what it may do."""

    subject: str
    scopes: frozenset[str] = ALL_SCOPES

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes as a set; :class:`UnknownScopeError` names the first unknown one."""
    chosen = frozenset(scopes)
    for scope in sorted(chosen - ALL_SCOPES):
        raise UnknownScopeError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    return chosen


def issue_token(
    secret: str,
    subject: str,
    *,
    ttl_seconds: int = 7 * 24 * 3600,
    scopes: Iterable[str] | None = None,
) -> str:
    """A signed token; ``scopes=None`` leaves the claim out (every scope)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + ttl_seconds}
    if scopes is not None:
        claims["scope"] = " ".join(sorted(check_scopes(scopes)))
    return jwt.encode(claims, secret, ALGORITHM)


def _scopes_of(claims: dict[str, object]) -> frozenset[str]:
    if "scope" not in claims:
        return ALL_SCOPES
    value = claims["scope"]
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise TokenError("invalid token", cause=f"scope claim is a {type(value).__name__}")


def verify_token(secret: str, token: str) -> Caller:
    """Accept any HS256 JWT signed with ``secret`` whose ``exp`` has not passed."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid token", cause=f"{type(exc).__name__}: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError("token has no subject")
    return Caller(subject, _scopes_of(claims))
