"""Bearer tokens: HS256 JWTs signed with ``AUTH_JWT_SECRET``, as the platform issues them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that is missing, malformed, forged or expired."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: the token's ``sub``."""

    subject: str


def issue_token(secret: str, subject: str, *, ttl_seconds: int = 7 * 24 * 3600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl_seconds}, secret, ALGORITHM)


def verify_token(secret: str, token: str) -> Caller:
    """Accept any HS256 JWT signed with ``secret`` whose ``exp`` has not passed."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError("token has no subject")
    return Caller(subject)
