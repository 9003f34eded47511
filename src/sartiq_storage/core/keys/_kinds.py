"""The key kinds the service writes (media, temp uploads, compute results) and the base
every kind shares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from uuid import UUID

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.keys._fields import (
    _FILE_ID,
    _extension,
    _extension_of,
    _free,
    _uint,
    _whole,
)
from sartiq_storage.core.keys._zones import Retention, Zone, retention_for


class _Described(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def zone(self) -> Zone: ...

    @property
    def entity_type(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def extension(self) -> str | None: ...


class _KeyMixin:
    """What every kind shares: retention and a plain dict for display."""

    __slots__ = ()

    @property
    def retention(self: _Described) -> Retention:
        return retention_for(self.zone)

    def as_dict(self: _Described) -> dict[str, str | int | None]:
        """Key, zone, retention, entity type, the parsed fields and the extension."""
        out: dict[str, str | int | None] = {
            "key": self.key,
            "zone": self.zone.value,
            "retention": retention_for(self.zone).value,
            "entity_type": self.entity_type,
        }
        for field in dataclasses.fields(self):
            if field.name in out:
                continue  # OtherKey's zone, a field there, is shown once, as for every kind
            value = getattr(self, field.name)
            out[field.name] = str(value) if isinstance(value, UUID) else value
        out["extension"] = self.extension
        return out


@dataclass(frozen=True, slots=True)
class MediaKey(_KeyMixin):
    """Canonical path of every new file: ``media/{resource_id}/file.{ext}``."""

    zone: ClassVar[Zone] = Zone.media
    entity_type: ClassVar[str] = "media_resource"

    resource_id: UUID
    extension: str

    def __post_init__(self) -> None:
        if not isinstance(self.resource_id, UUID):
            raise InvalidKeyError(self.resource_id, "resource_id must be a uuid.UUID")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return f"media/{self.resource_id}/file.{self.extension}"


@dataclass(frozen=True, slots=True)
class TempUploadKey(_KeyMixin):
    """Presigned upload staging: ``temp/{file_id}_{timestamp}_{safe_filename}``.

    ``file_id`` has no ``_`` and ``timestamp`` is plain digits, so the first two ``_`` split
    the name; the file name may hold more ``_``. The file name is any non-empty single segment
    (older writers did not use our :func:`safe_filename`).
    """

    zone: ClassVar[Zone] = Zone.temp
    entity_type: ClassVar[str] = "temp_upload"

    file_id: str
    timestamp: int
    safe_filename: str

    def __post_init__(self) -> None:
        if not (isinstance(self.file_id, str) and _FILE_ID.fullmatch(self.file_id)):
            raise InvalidKeyError(self.file_id, "file_id must be [0-9A-Za-z-]+")
        _uint(self.timestamp, "timestamp")
        _free(self.safe_filename, "safe_filename")
        _whole(self.key)

    @property
    def key(self) -> str:
        return f"temp/{self.file_id}_{self.timestamp}_{self.safe_filename}"

    @property
    def extension(self) -> str | None:
        """The file name's extension as written, or ``None`` if it has none."""
        return _extension_of(self.safe_filename)


@dataclass(frozen=True, slots=True)
class ComputeResultKey(_KeyMixin):
    """A compute server result: ``compute/{task_type}s/{task_id}/result_{index}.webp``."""

    zone: ClassVar[Zone] = Zone.compute
    entity_type: ClassVar[str] = "compute_result"

    task_type: str
    task_id: str
    index: int

    def __post_init__(self) -> None:
        _free(self.task_type, "task_type")
        _free(self.task_id, "task_id")
        _uint(self.index, "index")
        _whole(self.key)

    @property
    def key(self) -> str:
        return f"compute/{self.task_type}s/{self.task_id}/result_{self.index}.webp"

    @property
    def extension(self) -> str:
        return "webp"
