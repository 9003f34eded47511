"""``Cache-Control: no-store`` on every response that does not choose its own.

The seed's CDN table: "API responses: no cache (dynamic content)". JSON answers, errors,
``/metrics`` and the OpenAPI documents carry no Cache-Control of their own, so a cache in
between (a CDN, a corporate proxy, the browser) must not keep them. Responses that do choose
one keep it: stored objects (``/_storage/public``: immutable or ``no-store`` for ``temp/``),
the ``/files`` 302 (the target's policy) and the console's files (``no-cache``).
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from sartiq_storage.interfaces.http.middleware.base import HttpLayer

NO_STORE = (b"cache-control", b"no-store")


class NoStore(HttpLayer):
    """Pure ASGI (no request objects, streaming untouched): only the start message changes."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                for name, _ in headers:
                    if name.lower() == b"cache-control":
                        break
                else:
                    headers.append(NO_STORE)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
