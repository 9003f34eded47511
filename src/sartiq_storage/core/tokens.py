"""Bearer tokens: HS256 JWTs signed with ``AUTH_JWT_SECRET``, as the platform issues them.

A token may carry a ``scope`` claim (OAuth 2's space-separated list, or a JSON list) naming
what it may do; a token without one may do everything (``docs/decisions.md``: the platform's
existing tokens carry none).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
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
    return _verified(secret, token)[0]


def _verified(secret: str, token: str) -> tuple[Caller, float]:
    """The caller and the token's ``exp``."""
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
    return Caller(subject, _scopes_of(claims)), float(claims["exp"])


KEPT_SECONDS = 30.0
"""How long a verified token is taken on trust (never past its ``exp``)."""
KEPT_TOKENS = 4096
"""Verified tokens kept per process at most."""


class VerifiedTokens:
    """:func:`verify_token` with each success kept a short while, by the token's SHA-256.

    A JWT check (base64, JSON, HMAC, claims) is a tenth of a presign's cost, and every
    request of a client carries the same token. Tokens are stateless: nothing revokes one
    but its ``exp`` (checked on every hit, so an expired token is refused at once) and a new
    ``AUTH_JWT_SECRET`` (read at start, so a restart, which starts with nothing kept). Were
    a revocation added, :data:`KEPT_SECONDS` is how long a revoked token could still pass.
    Refusals are never kept: a forged token costs its full check each time.
    """

    def __init__(
        self,
        secret: str,
        *,
        kept_seconds: float = KEPT_SECONDS,
        size: int = KEPT_TOKENS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.kept_seconds = kept_seconds
        self.size = size
        self.clock = clock
        self._kept: dict[bytes, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Caller:
        """The caller of a valid token; :class:`TokenError` otherwise."""
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self.clock()
        hit = self._kept.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        caller, exp = _verified(self.secret, token)
        with self._lock:
            if hit is not None or len(self._kept) >= self.size:
                self._kept.pop(key, None)
                while len(self._kept) >= self.size:  # the oldest first (insertion order)
                    del self._kept[next(iter(self._kept))]
            self._kept[key] = (min(exp, now + self.kept_seconds), caller)
        return caller
