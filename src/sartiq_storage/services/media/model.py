"""The values the media steps take and return, and the settings they share.

Kept apart from the steps so that each step module imports only these (no cycle through
the facade), and a caller can build them without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment, utcnow
from sartiq_storage.adapters.media_probe import MAX_PIXELS
from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.errors import InvalidMediaInputError

IMMUTABLE = "public, max-age=31536000, immutable"
"""The Cache-Control of a canonical ``media/`` object: its key names one set of bytes."""
INGESTIBLE_PREFIXES = ("temp/", "compute/")
_ENTITY_TYPE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True, slots=True)
class MediaInput:
    """Exactly one of ``url`` (a fresh upload) or ``media_resource_id`` (reuse)."""

    url: str | None = None
    media_resource_id: uuid.UUID | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.media_resource_id is None):
            raise InvalidMediaInputError("give exactly one of url or media_resource_id")


@dataclass(frozen=True, slots=True)
class AttachTo:
    """Where an ingested resource is attached: a single slot when ``position`` is None."""

    entity_type: str
    entity_id: uuid.UUID
    slot: str
    position: int | None = None

    def __post_init__(self) -> None:
        if not self.entity_type or not set(self.entity_type) <= _ENTITY_TYPE_CHARS:
            raise InvalidMediaInputError(
                f"entity_type {self.entity_type!r} must be upper-case letters, digits and '_'"
            )
        if len(self.entity_type) > 64 or not self.slot or len(self.slot) > 64:
            raise InvalidMediaInputError("entity_type and slot must be 1 to 64 characters")
        if self.position is not None and self.position < 0:
            raise InvalidMediaInputError("position must be 0 or more (null for single slots)")


@dataclass(frozen=True, slots=True)
class IngestResult:
    resource: MediaResource
    attachment: MediaResourceAttachment | None
    created: bool
    """True when this call created the resource (a dedup miss)."""


Slot = tuple[str, uuid.UUID, str, int]
"""A slot as the unique index sees it: entity type and id, slot, position (-1: single)."""


def slot_of(target: AttachTo) -> Slot:
    """A slot as the unique index sees it (a single slot's null position counts as -1)."""
    position = -1 if target.position is None else target.position
    return (target.entity_type, target.entity_id, target.slot, position)


MAX_VIDEO_BYTES = 5 * 1024**3
"""Default limit of a video upload: 5 GiB."""


@dataclass(slots=True)
class MediaSettings:
    """The limits and switches of one media service, shared by its steps.

    Mutable and shared by reference: a change made through the service (a test lowering
    ``max_file_size``) is what every step sees on its next call.
    """

    max_file_size: int = MAX_UPLOAD_BYTES
    max_video_size: int = MAX_VIDEO_BYTES
    """A video's limit: read in ranges and hashed as a stream, never held whole, so it may
    be far bigger than an image (issue 18: multipart uploads of generated 4K clips)."""
    max_pixels: int = MAX_PIXELS
    clock: Callable[[], datetime] = field(default=utcnow)
    drain_after_commit: bool = True
    """Delete an operation's stale objects right after its commit (else: the worker does)."""
    inline_enrichment: bool = True
    """Hash every upload and compute its dominant colour at ingest (else: ``heal`` does)."""
