"""Tables for media resources, their attachments, deferred deletion and tags.

The platform documents ``MediaResource``, ``MediaResourceAttachment`` and
``MediaDeletionDeadLetter``; the rest is what correctness needs:

* ``media_deletion_outbox``: storage deletions written in the same transaction as the change
  that causes them, run only after commit;
* ``media_ingestions``: which source key became which resource, so a retried ingest of the
  same upload returns the same resource even after the upload itself is gone;
* unique constraints that make races impossible: one resource per content hash, one
  attachment per ``(entity_type, entity_id, slot, position)`` (a NULL position counts as a
  value, so a single slot holds one attachment), and a foreign key that refuses to delete a
  resource that is still attached.
"""

from __future__ import annotations

import enum
import time
import uuid
from datetime import UTC, datetime
from secrets import token_bytes

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, Uuid

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, for Core statements that skip the unit of work."""
    return Base.metadata.tables[model.__tablename__]


def utcnow() -> datetime:
    return datetime.now(UTC)


_V7_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V7_SET = (0x7 << 76) | (0x2 << 62)


def time_ordered_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): the Unix time in milliseconds, then 74 random bits. Rows keyed by
    it land at the right edge of their primary key's index instead of on a random page: a
    group of 32 upload intents dirtied ~32 more index pages with ``uuid4`` (``docs/uploads.md``
    "Recording intents under load")."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(token_bytes(10), "big")
    return uuid.UUID(int=(value & _V7_CLEAR) | _V7_SET)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ResourceType(enum.StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class MediaResource(Base):
    __tablename__ = "media_resources"
    __table_args__ = (
        UniqueConstraint("content_hash", "collision_rank"),
        # The orphan scan's unattached resources (few) without reading every row (a million
        # rows took a fifth of a second of each scan, ``docs/decisions.md``).
        Index(
            "ix_media_resources_detached_at",
            "detached_at",
            sqlite_where=text("detached_at IS NOT NULL"),
            postgresql_where=text("detached_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    resource_type: Mapped[ResourceType] = mapped_column(
        Enum(ResourceType, name="resource_type", native_enum=False, length=16)
    )
    storage_key: Mapped[str] = mapped_column(String(1024), unique=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    """The MD5 the platform documents; unique together with ``collision_rank``."""
    collision_rank: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """0, except for different bytes whose MD5 collides with an earlier resource's (1, 2…):
    MD5 collisions can be made at will, so a hash hit is confirmed by SHA-256 and a
    collision becomes a resource of its own instead of being served as the other."""
    sha256: Mapped[str | None] = mapped_column(String(64))
    extension: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(127))
    file_size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    dominant_color: Mapped[str | None] = mapped_column(String(7))
    protected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    alt_text: Mapped[str | None] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)
    color_profile: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[float | None] = mapped_column(Float)
    codec: Mapped[str | None] = mapped_column(String(32))
    """A video's codec as FFmpeg names it (``h264``, ``vp9``…); null for images."""
    frame_rate: Mapped[float | None] = mapped_column(Float)
    """A video's average frame rate (frames per second); null for images."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    detached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the last attachment went away; the orphan grace period counts from here."""

    attachments: Mapped[list[MediaResourceAttachment]] = relationship(
        back_populates="media_resource", passive_deletes="all"
    )


class MediaResourceAttachment(Base):
    __tablename__ = "media_resource_attachments"
    __table_args__ = (
        Index(
            "uq_attachment_slot",
            "entity_type",
            "entity_id",
            "slot",
            text("coalesce(position, -1)"),
            unique=True,
        ),
        Index("ix_attachments_entity", "entity_type", "entity_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    media_resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_resources.id", ondelete="RESTRICT"), index=True
    )
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    slot: Mapped[str] = mapped_column(String(64))
    position: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    media_resource: Mapped[MediaResource] = relationship(back_populates="attachments")


class MediaIngestion(Base):
    """A source key that was ingested, and the resource it became (idempotent retries)."""

    __tablename__ = "media_ingestions"

    source_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    media_resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_resources.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MediaDeletionOutbox(Base):
    """A storage deletion to run after the commit that decided it."""

    __tablename__ = "media_deletion_outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    storage_key: Mapped[str] = mapped_column(String(1024), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class MediaDeletionDeadLetter(Base):
    """A deletion that failed; retried with capped exponential backoff until it succeeds."""

    __tablename__ = "media_deletion_dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    storage_key: Mapped[str] = mapped_column(String(1024), unique=True)
    error_message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("owner_id", "organization_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(255))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class MediaResourceTag(Base):
    __tablename__ = "media_resource_tags"

    media_resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_resources.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UploadIntent(Base):
    """A presigned upload URL that was handed out: who, what, until when, and whether claimed.

    Finished but unclaimed uploads are visible (an object under the key, no ``claimed_at``),
    and the lifecycle sweeper never removes a temp object an unexpired intent still covers.
    """

    __tablename__ = "upload_intents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=time_ordered_uuid)
    storage_key: Mapped[str] = mapped_column(String(1024), unique=True)
    filename: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(127))
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    requester: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    media_resource_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class MaintenanceRun(Base):
    """One run of a scheduled job (sweep, orphan scan, heal…) and its JSON report.

    The worker schedules from these rows, so several workers agree on what is due, and the
    health endpoint reads the last report of each kind.
    """

    __tablename__ = "maintenance_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[str] = mapped_column(Text, default="{}")


class DatasetKV(Base):
    """The versioned-dataset engine's metadata: ``(partition, key) → value`` bytes.

    A KV table rather than one table per record kind, so the engine keeps lakeFS's small
    get/set/set_if/scan interface and the same layout works on any KV backend.
    """

    __tablename__ = "dataset_kv"

    partition: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
