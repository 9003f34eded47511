"""``GET /files/{path}`` as a minimal ASGI handler: the platform's hottest route.

Every image on every page goes through it, and it only needs the path, one query parameter
and at most two headers. So it reads them straight from the ASGI scope and answers with the
same 302 (and the same JSON errors and CORS headers) the documented FastAPI route describes,
without building request objects, solving dependencies or walking the router.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from sartiq_storage.core.errors import InvalidKeyError, MediaError
from sartiq_storage.services.context import StorageContext

PREFIX = "/files/"
EXPOSE = b"ETag, Content-Length, Content-Range"
NOSNIFF = (b"x-content-type-options", b"nosniff")


class FastFiles:
    def __init__(self, context: StorageContext) -> None:
        self.context = context
        self.origins = {o.encode("latin-1") for o in context.settings.WEB_APP_ORIGINS}

    def _cors(self, scope: Scope, headers: list[tuple[bytes, bytes]], vary: bytes) -> None:
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        if origin is not None and origin in self.origins:
            headers.append((b"access-control-allow-origin", origin))
            headers.append((b"access-control-expose-headers", EXPOSE))
        headers.append((b"vary", vary))

    async def _error(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            NOSNIFF,
        ]
        self._cors(scope, headers, b"Origin")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        type_: str | None = None
        query = scope.get("query_string", b"")
        if query:
            params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            unknown = sorted({k for k, _ in params} - {"type"})
            if unknown:
                await self._error(
                    scope, send, 422, f"unknown query parameters: {', '.join(unknown)}"
                )
                return
            if params:  # "?&" has a query string but no parameter at all
                type_ = params[-1][1]
        accept = None
        if type_ == "auto":
            accept = next(
                (v.decode("latin-1") for n, v in scope["headers"] if n == b"accept"), None
            )
        try:
            target = self.context.delivery.redirect(scope["path"][len(PREFIX) :], type_, accept)
        except InvalidKeyError as exc:
            await self._error(scope, send, 400, str(exc))
            return
        except MediaError as exc:
            await self._error(scope, send, exc.status_code, str(exc))
            return
        headers = [
            (b"location", target.location.encode("latin-1")),
            (b"cache-control", target.cache_control.encode("latin-1")),
            (b"content-length", b"0"),
            NOSNIFF,
        ]
        self._cors(scope, headers, b"Accept, Origin" if target.vary else b"Origin")
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
