"""Per-prefix policies decided once: cache headers, upload expiry, allowed upload types.

One place answers "what does this key get?", so the upload target, the compute API, the
ingest relocation and the file server cannot disagree.
"""

from __future__ import annotations

import math

from sartiq_storage.core.keys import Zone, classify

IMMUTABLE = "public, max-age=31536000, immutable"
"""Canonical, legacy and compute objects never change under their key."""
NO_STORE = "no-store"
"""``temp/`` holds unverified uploads: never cached anywhere."""

PRESIGN_BASE_SECONDS = 900
"""The platform's default upload-URL lifetime (15 minutes)."""
PRESIGN_SLOW_UPLINK_BYTES_PER_SECOND = 256 * 1024
PRESIGN_MAX_SECONDS = 3600


def cache_control_for(key: str) -> str:
    """The Cache-Control an object under ``key`` is written and served with."""
    zone = classify(key)
    if zone is Zone.temp:
        return NO_STORE
    if zone in (Zone.media, Zone.legacy_images, Zone.legacy_shooting_looks, Zone.compute):
        return IMMUTABLE
    return "no-cache"


def presign_expiry(size: int | None) -> int:
    """Seconds an upload URL lives: 15 minutes, plus the time a declared size needs on a slow
    (256 KiB/s) uplink, capped at an hour. Unsized uploads get the base 15 minutes.
    """
    if size is None or size <= 0:
        return PRESIGN_BASE_SECONDS
    extra = math.ceil(size / PRESIGN_SLOW_UPLINK_BYTES_PER_SECOND)
    return min(PRESIGN_BASE_SECONDS + extra, PRESIGN_MAX_SECONDS)
