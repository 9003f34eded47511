"""The public JSON shapes, as the platform documents them (``platform.md`` §5–7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.core.urls import UrlResolver

Orientation = Literal["portrait", "landscape", "square"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Projection(BaseModel):
    """An answer whose fields are the same-named attributes of one object (a database row, a
    core dataclass): :meth:`of` reads them, instead of a constructor naming each one again."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, source: object) -> Self:
        return cls.model_validate(source, from_attributes=True)


class MediaInputBody(Strict):
    url: str | None = Field(default=None, max_length=4096)
    media_resource_id: uuid.UUID | None = None
    width: int | None = Field(default=None, ge=1, le=100_000)
    height: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> MediaInputBody:
        if (self.url is None) == (self.media_resource_id is None):
            raise ValueError("give exactly one of url or media_resource_id")
        return self


class AttachmentFields(Strict):
    entity_type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$", examples=["PRODUCT"])
    entity_id: uuid.UUID
    slot: str = Field(min_length=1, max_length=64, examples=["cover_image"])
    position: int | None = Field(default=None, ge=0, le=100_000)


class IngestBody(AttachmentFields):
    media: MediaInputBody


INGEST_BATCH_MAX = 100
"""Items per ``ingest-batch`` call: one console drop or one generation's outputs, and a
bound on the work (and the transaction) one request may hold."""


class IngestBatchBody(Strict):
    items: list[IngestBody] = Field(min_length=1, max_length=INGEST_BATCH_MAX)


class IngestStorageKeyBody(Strict):
    storage_key: str = Field(min_length=1, max_length=1024)
    relocate: bool = True
    entity_type: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    entity_id: uuid.UUID | None = None
    slot: str | None = Field(default=None, min_length=1, max_length=64)
    position: int | None = Field(default=None, ge=0, le=100_000)

    @model_validator(mode="after")
    def _all_or_none(self) -> IngestStorageKeyBody:
        given = [self.entity_type is not None, self.entity_id is not None, self.slot is not None]
        if any(given) and not all(given):
            raise ValueError("entity_type, entity_id and slot go together")
        return self


class MediaResourceMetadataUpdate(Strict):
    color_profile: str | None = Field(default=None, max_length=255)
    duration: float | None = Field(default=None, ge=0)
    dominant_color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    width: int | None = Field(default=None, ge=1, le=100_000)
    height: int | None = Field(default=None, ge=1, le=100_000)
    alt_text: str | None = Field(default=None, max_length=10_000)
    caption: str | None = Field(default=None, max_length=10_000)


class AttachmentPublic(Projection):
    id: uuid.UUID
    media_resource_id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    slot: str
    position: int | None
    created_at: datetime


class MediaResourcePublic(BaseModel):
    id: uuid.UUID
    resource_type: Literal["IMAGE", "VIDEO"]
    url: str
    content_hash: str
    extension: str
    file_size: int
    width: int | None
    height: int | None
    aspect_ratio: float | None
    orientation: Orientation | None
    dominant_color: str | None
    protected: bool
    alt_text: str | None
    caption: str | None
    color_profile: str | None
    duration: float | None
    codec: str | None = None
    """A video's codec as FFmpeg names it (``h264``, ``vp9``, ``mpeg4``…)."""
    frame_rate: float | None = None
    """A video's average frame rate, frames per second."""
    poster_url: str | None = None
    """A video's poster frame (first keyframe, WebP): ``/files/{key}?type=webp``."""
    created_at: datetime

    @classmethod
    def of(cls, row: MediaResource, urls: UrlResolver) -> MediaResourcePublic:
        ratio: float | None = None
        orientation: Orientation | None = None
        if row.width and row.height:
            ratio = round(row.width / row.height, 4)
            orientation = (
                "square"
                if row.width == row.height
                else "portrait"
                if row.height > row.width
                else "landscape"
            )
        return cls(
            id=row.id,
            resource_type=row.resource_type.value,
            url=urls.public_url(row.storage_key),
            content_hash=row.content_hash,
            extension=row.extension,
            file_size=row.file_size,
            width=row.width,
            height=row.height,
            aspect_ratio=ratio,
            orientation=orientation,
            dominant_color=row.dominant_color,
            protected=row.protected,
            alt_text=row.alt_text,
            caption=row.caption,
            color_profile=row.color_profile,
            duration=row.duration,
            codec=row.codec,
            frame_rate=row.frame_rate,
            poster_url=urls.poster_url(row.storage_key)
            if row.resource_type is ResourceType.VIDEO
            else None,
            created_at=row.created_at,
        )


class IngestResponse(BaseModel):
    media_resource: MediaResourcePublic
    attachment: AttachmentPublic | None
    created: bool


class IngestBatchItem(BaseModel):
    """One item's answer: what ``/ingest`` would have answered for it alone (``status`` 201
    with the resource, or the refusal's status and ``detail``)."""

    status: int
    media_resource: MediaResourcePublic | None = None
    attachment: AttachmentPublic | None = None
    created: bool | None = None
    detail: str | None = None


class IngestBatchResponse(BaseModel):
    results: list[IngestBatchItem]


class MediaResourceDetail(MediaResourcePublic):
    attachments: list[AttachmentPublic]


class MediaResourceList(BaseModel):
    items: list[MediaResourcePublic]
    total: int
    limit: int
    offset: int


class HealBody(Strict):
    media_resource_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    dry_run: bool = True


class HealReport(BaseModel):
    dry_run: bool
    checked: int
    fixed: list[dict[str, str]]
    unfixable: list[dict[str, str]]


class TagCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    color: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2000)


class TagUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    color: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2000)


class TagPublic(Projection):
    id: uuid.UUID
    name: str
    color: str | None
    description: str | None
    owner_id: str
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class TagIds(Strict):
    tag_ids: list[uuid.UUID] = Field(max_length=500)


class MediaResourceTagsPublic(BaseModel):
    tags: list[TagPublic]
