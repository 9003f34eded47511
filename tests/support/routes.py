"""Enumerate an app's routes (path template, methods) the way its router will dispatch them.

FastAPI ≥ 0.16x keeps included routers as ``_IncludedRouter`` entries whose routes are reached
through ``effective_route_contexts()``; older versions flatten them into ``app.routes``. Both
are handled, so a route added anywhere is seen here without editing the tests.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    endpoint: Any


def iter_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[RouteInfo | Mount]:
    """Every route as :class:`RouteInfo`; mounts are yielded as they are, not entered."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                original = context.original_route
                if isinstance(original, Mount):
                    yield original
                    continue
                methods = frozenset(getattr(original, "methods", None) or ())
                endpoint = getattr(original, "endpoint", None)
                yield RouteInfo(prefix + context.path, methods, endpoint)
        elif isinstance(route, Mount):
            yield route
        else:
            methods = frozenset(getattr(route, "methods", None) or ())
            yield RouteInfo(prefix + route.path, methods, getattr(route, "endpoint", None))


def mutating(routes: Iterable[Any]) -> list[tuple[str, str]]:
    """(method, path template) for every POST, PUT, PATCH and DELETE route, mounts excluded."""
    found = []
    for info in iter_routes(routes):
        if isinstance(info, RouteInfo):
            found.extend((m, info.path) for m in sorted(info.methods & MUTATING))
    return found


_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def fill(template: str) -> str:
    """A concrete path for a template: ids become UUIDs, paths and keys a plausible key."""

    def value(match: re.Match[str]) -> str:
        name, convertor = match.group(1), match.group(2)
        if convertor in ("path", "key"):
            return "media/hardening/file.png"
        if name.endswith("id"):
            return str(uuid.UUID(int=1))
        if name == "fmt":
            return "webp"
        return "hardening"

    return _PARAM.sub(value, template)
