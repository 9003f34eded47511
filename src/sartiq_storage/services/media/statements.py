"""The ingest hot path's SQL, built once.

Core statements on the session's connection skip the unit of work and the statement
construction (half of an ingest's time on the ORM path).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect

from sartiq_storage.adapters.db.models import (
    Base,
    MediaIngestion,
    MediaResource,
    MediaResourceAttachment,
    UploadIntent,
    table_of,
)

_T = TypeVar("_T")


@functools.cache
def _column_keys(model: type[Base]) -> tuple[str, ...]:
    return tuple(attr.key for attr in sa_inspect(model).column_attrs)


def columns(row: Base) -> dict[str, Any]:
    """A mapped object's column values, for a Core INSERT (no unit-of-work flush)."""
    return {key: getattr(row, key) for key in _column_keys(type(row))}


_IN_LIST_MAX = 500
"""Values per expanded IN list: SQLite and PostgreSQL cap a statement's bound parameters."""


def in_lists(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``values`` in chunks small enough for one expanded IN list each."""
    for start in range(0, len(values), _IN_LIST_MAX):
        yield values[start : start + _IN_LIST_MAX]


RESOURCES = table_of(MediaResource)
INGESTIONS = table_of(MediaIngestion)
ATTACHMENTS = table_of(MediaResourceAttachment)
INTENTS = table_of(UploadIntent)
INSERT_RESOURCE = insert(RESOURCES)
INSERT_INGESTION = insert(INGESTIONS)
INSERT_ATTACHMENT = insert(ATTACHMENTS)
INGESTED_AS = select(INGESTIONS.c.media_resource_id).where(
    INGESTIONS.c.source_key == bindparam("b_key")
)
KNOWN_BY_HASHES = (
    select(
        RESOURCES.c.content_hash,
        RESOURCES.c.id,
        RESOURCES.c.storage_key,
        RESOURCES.c.sha256,
        RESOURCES.c.collision_rank,
    )
    .where(RESOURCES.c.content_hash.in_(bindparam("b_md5s", expanding=True)))
    .order_by(RESOURCES.c.content_hash, RESOURCES.c.collision_rank)
)
SLOT_HOLDER = select(ATTACHMENTS.c.id, ATTACHMENTS.c.media_resource_id).where(
    ATTACHMENTS.c.entity_type == bindparam("b_type"),
    ATTACHMENTS.c.entity_id == bindparam("b_entity"),
    ATTACHMENTS.c.slot == bindparam("b_slot"),
    func.coalesce(ATTACHMENTS.c.position, -1) == bindparam("b_position"),
)
DELETE_ATTACHMENT = delete(ATTACHMENTS).where(ATTACHMENTS.c.id == bindparam("b_id"))
FILL_SHA256 = (
    update(RESOURCES)
    .where(RESOURCES.c.id == bindparam("b_id"), RESOURCES.c.sha256.is_(None))
    .values(sha256=bindparam("b_sha"))
)
CLEAR_DETACHED = (
    update(RESOURCES)
    .where(RESOURCES.c.id == bindparam("b_id"), RESOURCES.c.detached_at.is_not(None))
    .values(detached_at=None)
)
SLOTS_OF_ENTITIES = select(
    ATTACHMENTS.c.entity_type,
    ATTACHMENTS.c.entity_id,
    ATTACHMENTS.c.slot,
    func.coalesce(ATTACHMENTS.c.position, -1).label("position"),
).where(
    ATTACHMENTS.c.entity_type.in_(bindparam("b_types", expanding=True)),
    ATTACHMENTS.c.entity_id.in_(bindparam("b_entities", expanding=True)),
)
SLOT_LOCK_SPACE = 0x5107
"""The first key of the slots' PostgreSQL advisory locks (the second: the slot's hash)."""
LOCK_SLOTS = text(
    "SELECT pg_advisory_xact_lock(:space, k) "
    "FROM (SELECT DISTINCT unnest(CAST(:keys AS integer[])) AS k ORDER BY k) AS slots"
)
CLAIM_INTENT = (
    update(INTENTS)
    .where(INTENTS.c.storage_key == bindparam("b_key"), INTENTS.c.claimed_at.is_(None))
    .values(claimed_at=bindparam("b_now"), media_resource_id=bindparam("b_resource"))
)
