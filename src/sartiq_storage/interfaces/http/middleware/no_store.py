"""``Cache-Control: no-store`` on every response that does not choose its own.

The seed's CDN table: "API responses: no cache (dynamic content)". JSON answers, errors,
``/metrics`` and the OpenAPI documents carry no Cache-Control of their own, so a cache in
between (a CDN, a corporate proxy, the browser) must not keep them. Responses that do choose
one keep it: stored objects (``/_storage/public``: immutable or ``no-store`` for ``temp/``),
the ``/files`` 302 (the target's policy) and the console's files (``no-cache``).

Applied by the access-log layer (one layer for both, ``access_log.py``) and by the ``/files``
fast path to its own error answers.
"""

from __future__ import annotations

NO_STORE = (b"cache-control", b"no-store")


def add_no_store(headers: list[tuple[bytes, bytes]]) -> None:
    """Append ``no-store`` to a response's raw headers unless they name a Cache-Control."""
    for name, _ in headers:
        if name.lower() == b"cache-control":
            return
    headers.append(NO_STORE)
