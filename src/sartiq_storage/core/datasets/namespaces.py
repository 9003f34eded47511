"""Where a dataset repository may live on the service's store. Pure: no I/O.

A repository's storage namespace is a key prefix on the same bucket as the platform's
content. Inside a content zone its objects would be taken for the zone's own: the orphan
scanner deletes ``media/`` objects without a row, the lifecycle sweep expires ``temp/``,
``compute/`` and ``derived/``. Two repositories sharing a prefix would collect each other's
blobs in GC. So a namespace may overlap neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from sartiq_storage.core.keys import ZONE_PREFIXES

RESERVED_PREFIXES: Final[tuple[str, ...]] = (
    *ZONE_PREFIXES.values(),
    "derived/",  # local ?type= conversions (services/delivery.py's DERIVED_PREFIX)
    "_storage/",  # the embedded store's routes: keep its keys unambiguous with them
)
"""Every prefix the service itself writes or manages; the lifecycle policy may add more."""

_BLOB = re.compile(r"(?:^|/)data/[0-9a-f]{2}/[0-9a-f]{64}$")
_TREE = re.compile(r"(?:^|/)_meta/(?:meta)?ranges/[0-9a-f]{64}$")


def overlaps(a: str, b: str) -> bool:
    """Whether two key prefixes share keys: equal, or one a folder of the other. Compared
    case-folded: on a case-insensitive disk (the embedded store on macOS) ``Media/`` is
    ``media/``."""
    a, b = a.strip("/").casefold(), b.strip("/").casefold()
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def namespace_conflict(
    namespace: str,
    *,
    reserved: Iterable[str] = RESERVED_PREFIXES,
    repositories: Iterable[tuple[str, str]] = (),
) -> str | None:
    """Why ``namespace`` (a key prefix) may not hold a repository, or None when it may.

    ``repositories`` are the ``(name, namespace)`` of the other repositories.
    """
    for prefix in reserved:
        if overlaps(namespace, prefix):
            return (
                f"storage namespace {namespace!r} overlaps the content zone "
                f"{prefix.rstrip('/') + '/'!r}, whose objects the service manages (and "
                "deletes); pick a prefix outside it, such as 'datasets/<repo>'"
            )
    for name, other in repositories:
        if overlaps(namespace, other):
            return (
                f"storage namespace {namespace!r} overlaps the namespace {other!r} of "
                f"repository {name!r}; each repository needs its own prefix"
            )
    return None


def is_dataset_object(key: str) -> bool:
    """Whether ``key`` has the shape of a dataset engine's blob or tree file
    (``<ns>/data/<2 hex>/<sha256>``, ``<ns>/_meta/ranges|metaranges/<sha256>``): no content
    zone writes such keys, so a sweep never takes one for its own."""
    return bool(_BLOB.search(key) or _TREE.search(key))
