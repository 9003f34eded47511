"""Route groups, one module each.

Routes that take an object key use the ``key`` path convertor registered here: Starlette's own
``path`` pattern (``.*``) stops at a newline, and its ``$`` lets the router drop a trailing one,
so ``/_storage/public/x%0A`` would have served ``x`` and ``/files/x%0A`` would have told the
fast path and the documented route apart. ``key`` matches every character, so each such request
reaches the key gate, which refuses it (400) the same way on every route.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class KeyConvertor(Convertor[str]):
    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("key", KeyConvertor())
