"""What a resource carries besides its bytes: descriptive metadata and protection.

Metadata is filled, never overwritten: enrichment and the Backend may both report a width,
and the first one recorded stands. Protection exempts a resource from orphan deletion.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.core.errors import InvalidMediaInputError, MediaNotFoundError

METADATA_FIELDS = (
    "color_profile",
    "duration",
    "dominant_color",
    "width",
    "height",
    "alt_text",
    "caption",
)


def _resource(session: Session, resource_id: uuid.UUID) -> MediaResource:
    resource = session.get(MediaResource, resource_id)
    if resource is None:
        raise MediaNotFoundError(f"media resource {resource_id} not found")
    return resource


def patch_metadata(db: Database, resource_id: uuid.UUID, values: dict[str, Any]) -> MediaResource:
    """Fill only the fields that are still null; set ones are kept, silently."""
    unknown = set(values) - set(METADATA_FIELDS)
    if unknown:
        raise InvalidMediaInputError(f"unknown fields: {', '.join(sorted(unknown))}")

    def work(session: Session) -> MediaResource:
        resource = _resource(session, resource_id)
        for name, value in values.items():
            if value is None or getattr(resource, name) is not None:
                continue
            if name == "color_profile" and resource.resource_type is ResourceType.VIDEO:
                continue
            if name == "duration" and resource.resource_type is ResourceType.IMAGE:
                continue
            setattr(resource, name, value)
        return resource

    return run_transaction(db, work)


def set_protected(db: Database, resource_id: uuid.UUID, protected: bool) -> MediaResource:
    """Protect a resource from orphan deletion, or lift the protection."""

    def work(session: Session) -> MediaResource:
        resource = _resource(session, resource_id)
        resource.protected = protected
        return resource

    return run_transaction(db, work)
