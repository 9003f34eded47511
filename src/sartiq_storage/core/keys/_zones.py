"""Zones of the bucket and their retention: what a key's prefix says about it."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Zone(StrEnum):
    """The top-level area of the bucket a key lives in; it decides retention."""

    media = "media"
    temp = "temp"
    compute = "compute"
    legacy_images = "legacy_images"
    legacy_shooting_looks = "legacy_shooting_looks"
    unknown = "unknown"


class Retention(StrEnum):
    """Whether objects in a zone are auto-deleted by lifecycle rules."""

    temporary = "temporary"
    permanent = "permanent"


#: Zone → the literal key prefix R2 lifecycle rules match on. ``unknown`` has none.
ZONE_PREFIXES: Final[Mapping[Zone, str]] = MappingProxyType(
    {
        Zone.media: "media/",
        Zone.temp: "temp/",
        Zone.compute: "compute/",
        Zone.legacy_images: "images/",
        Zone.legacy_shooting_looks: "shooting_looks/",
    }
)

_RETENTION: Final[Mapping[Zone, Retention]] = MappingProxyType(
    {
        Zone.media: Retention.permanent,
        Zone.temp: Retention.temporary,
        Zone.compute: Retention.temporary,
        Zone.legacy_images: Retention.permanent,
        Zone.legacy_shooting_looks: Retention.permanent,
        # Never auto-delete what we don't understand.
        Zone.unknown: Retention.permanent,
    }
)


def classify(key: str) -> Zone:
    """Return the zone of a key by its literal prefix, without validating it.

    This is exactly how R2 lifecycle rules match, so it is safe for reports over listings that
    may contain keys our validation refuses. Use :func:`parse_key` for anything else.
    """
    for zone, prefix in ZONE_PREFIXES.items():
        if key.startswith(prefix):
            return zone
    return Zone.unknown


LEGACY_ZONES: Final = frozenset({Zone.legacy_images, Zone.legacy_shooting_looks})
"""The old layouts: read, parsed and migrated, never written."""


def is_legacy(key: str) -> bool:
    """Whether ``key`` lies in a legacy layout (``images/``, ``shooting_looks/``), which
    nothing writes, restores or replaces."""
    return classify(key) in LEGACY_ZONES


def retention_for(zone: Zone) -> Retention:
    """Return a zone's retention; ``unknown`` is permanent so nothing unexplained is deleted."""
    return _RETENTION[zone]
