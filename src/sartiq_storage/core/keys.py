"""The bucket's key schema: typed keys, builders and one parser. Pure: no I/O.

Every valid key parses to exactly one kind, and every kind knows its zone, so lifecycle,
ingestion and the CLI's ``keys explain`` never guess from string prefixes themselves.

Building and parsing are exact inverses: a kind's constructor refuses field values that would
make its key ambiguous or invalid (``InvalidKeyError``), so ``parse_key(k.key) == k`` for every
kind ``k`` that can be built, and ``parse_key(s).key == validate_key(s)`` for every valid ``s``.
Keys that look like a pattern but do not round-trip exactly fall back to an :class:`OtherKey`
of their zone, never to a wrong reading. See ``docs/keys.md``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Final, Protocol, TypeAlias
from uuid import UUID, uuid4

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.filenames import normalize_extension, safe_filename
from sartiq_storage.core.validation import validate_key


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


def retention_for(zone: Zone) -> Retention:
    """Return a zone's retention; ``unknown`` is permanent so nothing unexplained is deleted."""
    return _RETENTION[zone]


# --- field rules -------------------------------------------------------------------------------

# Ids, uuids and image types: no '_' (the field separator), '/' or '.' (the extension separator).
_TOKEN = re.compile(r"[^_/.]+")
# Extensions stored in keys: kept literally (legacy data may say JPG) so parsing round-trips.
_EXT = re.compile(r"[A-Za-z0-9]{1,10}")
_FILE_ID = re.compile(r"[0-9A-Za-z-]+")
_UINT_TEXT = re.compile(r"0|[1-9][0-9]*")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MEDIA_FILE = re.compile(r"file\.([A-Za-z0-9]{1,10})")
_TEMP_UPLOAD = re.compile(r"([0-9A-Za-z-]+)_(0|[1-9][0-9]*)_(.+)", re.DOTALL)
_COMPUTE_RESULT = re.compile(r"result_(0|[1-9][0-9]*)\.webp")


def _token(value: object, name: str) -> None:
    if not (isinstance(value, str) and _TOKEN.fullmatch(value)):
        raise InvalidKeyError(value, f"{name} must be non-empty without '_', '/' or '.'")


def _free(value: object, name: str) -> None:
    if not (isinstance(value, str) and value and "/" not in value):
        raise InvalidKeyError(value, f"{name} must be non-empty without '/'")


def _extension(value: object) -> None:
    if not (isinstance(value, str) and _EXT.fullmatch(value)):
        raise InvalidKeyError(value, "extension must be 1-10 ASCII letters or digits, no dot")


def _uint(value: object, name: str) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise InvalidKeyError(value, f"{name} must be an int >= 0")


def _whole(key: str) -> None:
    """The built key must be valid and already NFC, or parsing it would give other fields."""
    if validate_key(key) != key:
        raise InvalidKeyError(key, "not in Unicode NFC form")


def _extension_of(filename: str) -> str | None:
    stem, dot, ext = filename.rpartition(".")
    return ext if dot and stem and _EXT.fullmatch(ext) else None


# --- kinds -------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class LegacyProductKey(_KeyMixin):
    """``images/products/{product_id}/product_{product_id}_{sku}_{uuid}_{image_type}.{ext}``.

    The SKU may contain ``_``: the folder fixes the prefix and the last two fields are
    uuid and image type.
    """

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "product"

    product_id: str
    sku: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.product_id, "product_id")
        _free(self.sku, "sku")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        p = self.product_id
        return (
            f"images/products/{p}/product_{p}_{self.sku}_{self.uuid}_{self.image_type}"
            f".{self.extension}"
        )


@dataclass(frozen=True, slots=True)
class LegacyStyleKey(_KeyMixin):
    """``images/styles/{style_id}/style_{style_id}_{uuid}_{image_type}.{ext}``."""

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "style"

    style_id: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.style_id, "style_id")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        s = self.style_id
        return f"images/styles/{s}/style_{s}_{self.uuid}_{self.image_type}.{self.extension}"


@dataclass(frozen=True, slots=True)
class LegacyShotTypeKey(_KeyMixin):
    """``images/shot_types/{shot_type_id}/shot_type_{shot_type_id}_{uuid}_{image_type}.{ext}``."""

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "shot_type"

    shot_type_id: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.shot_type_id, "shot_type_id")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        s = self.shot_type_id
        return f"images/shot_types/{s}/shot_type_{s}_{self.uuid}_{self.image_type}.{self.extension}"


@dataclass(frozen=True, slots=True)
class LegacyOrganizationKey(_KeyMixin):
    """``images/organizations/{id}/organization_{id}_{uuid}_{image_type}.{ext}``."""

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "organization"

    organization_id: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.organization_id, "organization_id")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        o = self.organization_id
        return (
            f"images/organizations/{o}/organization_{o}_{self.uuid}_{self.image_type}"
            f".{self.extension}"
        )


@dataclass(frozen=True, slots=True)
class LegacySubjectKey(_KeyMixin):
    """``images/subjects/subject_{slug}_{subject_id}_{uuid}_{image_type}.{ext}`` (no folder).

    Parsed from the right: the last three fields are subject id, uuid and image type, and
    everything before them is the slug, which may therefore contain ``_``.
    """

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "subject"

    slug: str
    subject_id: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _free(self.slug, "slug")
        _token(self.subject_id, "subject_id")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return (
            f"images/subjects/subject_{self.slug}_{self.subject_id}_{self.uuid}"
            f"_{self.image_type}.{self.extension}"
        )


@dataclass(frozen=True, slots=True)
class LegacyGenerationKey(_KeyMixin):
    """``images/generations/{generation_id}/prediction_{prediction_id}_{sku}_{uuid}_{type}.{ext}``.

    The prediction id has no ``_``, the last two fields are uuid and image type, and the SKU
    is everything in between (it may contain ``_``).
    """

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "generation"

    generation_id: str
    prediction_id: str
    sku: str
    uuid: str
    image_type: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.generation_id, "generation_id")
        _token(self.prediction_id, "prediction_id")
        _free(self.sku, "sku")
        _token(self.uuid, "uuid")
        _token(self.image_type, "image_type")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return (
            f"images/generations/{self.generation_id}/prediction_{self.prediction_id}"
            f"_{self.sku}_{self.uuid}_{self.image_type}.{self.extension}"
        )


@dataclass(frozen=True, slots=True)
class LegacyShotRevisionKey(_KeyMixin):
    """``images/shots/{shot_id}/revisions/revision_{revision_id}_{uuid}.{ext}``."""

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "shot_revision"

    shot_id: str
    revision_id: str
    uuid: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.shot_id, "shot_id")
        _token(self.revision_id, "revision_id")
        _token(self.uuid, "uuid")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return (
            f"images/shots/{self.shot_id}/revisions/revision_{self.revision_id}_{self.uuid}"
            f".{self.extension}"
        )


@dataclass(frozen=True, slots=True)
class LegacyTempKey(_KeyMixin):
    """``images/temp/temp_{uuid}.{ext}``: legacy, but permanent like the rest of ``images/``."""

    zone: ClassVar[Zone] = Zone.legacy_images
    entity_type: ClassVar[str] = "legacy_temp"

    uuid: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.uuid, "uuid")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return f"images/temp/temp_{self.uuid}.{self.extension}"


@dataclass(frozen=True, slots=True)
class ShootingLookKey(_KeyMixin):
    """``shooting_looks/{look_id}/outfit_{look_id}_{uuid}.{ext}``."""

    zone: ClassVar[Zone] = Zone.legacy_shooting_looks
    entity_type: ClassVar[str] = "shooting_look"

    look_id: str
    uuid: str
    extension: str

    def __post_init__(self) -> None:
        _token(self.look_id, "look_id")
        _token(self.uuid, "uuid")
        _extension(self.extension)
        _whole(self.key)

    @property
    def key(self) -> str:
        return f"shooting_looks/{self.look_id}/outfit_{self.look_id}_{self.uuid}.{self.extension}"


def _check_other(path: object, zone: Zone, kind: str) -> None:
    """A fallback kind holds a valid key of its zone that no specific pattern claims."""
    if not isinstance(path, str):
        raise InvalidKeyError(path, "not a string")
    _whole(path)
    if classify(path) is not zone:
        raise InvalidKeyError(path, f"{kind} needs a key in zone {zone.value}")
    specific = _match_specific(path)
    if specific is not None:
        raise InvalidKeyError(path, f"matches {type(specific).__name__}; use that instead")


OTHER_ENTITY_TYPES: Final[Mapping[Zone, str]] = MappingProxyType(
    {
        Zone.media: "media_other",
        Zone.temp: "temp_other",
        Zone.compute: "compute_object",
        Zone.legacy_images: "legacy_other",
        Zone.legacy_shooting_looks: "shooting_looks_other",
    }
)
"""The entity type of each known zone's :class:`OtherKey`."""


@dataclass(frozen=True, slots=True)
class OtherKey(_KeyMixin):
    """A key of a known zone that no specific pattern there claims: ``media/…`` that is not
    ``media/{uuid}/file.{ext}``, a ``temp/…`` that is no upload, compute intermediates and
    logs, legacy ``images/…`` and ``shooting_looks/…`` that match no pattern exactly.

    One kind for every zone (its ``zone`` a field, not the class), so code that handles "the
    rest of a zone" asks ``isinstance(k, OtherKey)`` and then ``k.zone``.
    """

    path: str
    zone: Zone

    def __post_init__(self) -> None:
        if self.zone not in OTHER_ENTITY_TYPES:
            raise InvalidKeyError(self.path, f"OtherKey needs a known zone, not {self.zone!r}")
        _check_other(self.path, self.zone, type(self).__name__)

    @property
    def entity_type(self) -> str:
        return OTHER_ENTITY_TYPES[self.zone]

    @property
    def key(self) -> str:
        return self.path

    @property
    def extension(self) -> str | None:
        return _extension_of(self.path.rpartition("/")[2])


@dataclass(frozen=True, slots=True)
class UnknownKey(_KeyMixin):
    """A valid key outside every known zone; retention permanent (never auto-deleted)."""

    zone: ClassVar[Zone] = Zone.unknown
    entity_type: ClassVar[str] = "unknown"

    key: str

    def __post_init__(self) -> None:
        _check_other(self.key, self.zone, type(self).__name__)

    @property
    def extension(self) -> str | None:
        return _extension_of(self.key.rpartition("/")[2])


ParsedKey: TypeAlias = (
    MediaKey
    | TempUploadKey
    | ComputeResultKey
    | LegacyProductKey
    | LegacyStyleKey
    | LegacyShotTypeKey
    | LegacyOrganizationKey
    | LegacySubjectKey
    | LegacyGenerationKey
    | LegacyShotRevisionKey
    | LegacyTempKey
    | ShootingLookKey
    | OtherKey
    | UnknownKey
)


# --- parsing -----------------------------------------------------------------------------------


def _split_file(filename: str, prefix: str, fields: int) -> tuple[list[str], str] | None:
    """Split ``{prefix}{rest}.{ext}``, cutting ``fields - 1`` ``_``-fields off rest's right."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem.startswith(prefix):
        return None
    parts = stem[len(prefix) :].rsplit("_", fields - 1)
    return (parts, ext) if len(parts) == fields else None


def _match_media(segs: list[str]) -> ParsedKey | None:
    if len(segs) != 3 or not _UUID_TEXT.fullmatch(segs[1]):
        return None
    file = _MEDIA_FILE.fullmatch(segs[2])
    return MediaKey(UUID(segs[1]), file.group(1)) if file else None


def _match_temp(segs: list[str]) -> ParsedKey | None:
    upload = _TEMP_UPLOAD.fullmatch(segs[1]) if len(segs) == 2 else None
    if upload is None:
        return None
    return TempUploadKey(upload.group(1), int(upload.group(2)), upload.group(3))


def _match_compute(segs: list[str]) -> ParsedKey | None:
    if len(segs) != 4 or len(segs[1]) < 2 or not segs[1].endswith("s"):
        return None
    result = _COMPUTE_RESULT.fullmatch(segs[3])
    return ComputeResultKey(segs[1][:-1], segs[2], int(result.group(1))) if result else None


def _match_shooting_looks(segs: list[str]) -> ParsedKey | None:
    if len(segs) != 3:
        return None
    look_id = segs[1]
    split = _split_file(segs[2], f"outfit_{look_id}_", 1)
    return ShootingLookKey(look_id, split[0][0], split[1]) if split else None


def _match_images(segs: list[str]) -> ParsedKey | None:
    area = segs[1] if len(segs) > 1 else ""
    if area == "subjects" and len(segs) == 3:
        split = _split_file(segs[2], "subject_", 4)
        if split is None:
            return None
        (slug, subject_id, uuid, image_type), ext = split
        return LegacySubjectKey(slug, subject_id, uuid, image_type, ext)
    if area == "temp" and len(segs) == 3:
        split = _split_file(segs[2], "temp_", 1)
        return LegacyTempKey(split[0][0], split[1]) if split else None
    if area == "shots" and len(segs) == 5 and segs[3] == "revisions":
        split = _split_file(segs[4], "revision_", 2)
        if split is None:
            return None
        (revision_id, uuid), ext = split
        return LegacyShotRevisionKey(segs[2], revision_id, uuid, ext)
    if len(segs) != 4:
        return None
    folder, filename = segs[2], segs[3]
    if area == "products":
        split = _split_file(filename, f"product_{folder}_", 3)
        if split is None:
            return None
        (sku, uuid, image_type), ext = split
        return LegacyProductKey(folder, sku, uuid, image_type, ext)
    if area == "generations":
        split = _split_file(filename, "prediction_", 3)
        if split is None:
            return None
        (head, uuid, image_type), ext = split
        prediction_id, sep, sku = head.partition("_")
        if not sep:
            return None
        return LegacyGenerationKey(folder, prediction_id, sku, uuid, image_type, ext)
    simple = _SIMPLE_LEGACY.get(area)
    if simple is None:
        return None
    prefix, kind = simple
    split = _split_file(filename, f"{prefix}_{folder}_", 2)
    if split is None:
        return None
    (uuid, image_type), ext = split
    return kind(folder, uuid, image_type, ext)


# Folder → (file-name prefix, kind) for ``{area}/{id}/{prefix}_{id}_{uuid}_{image_type}.{ext}``.
_SIMPLE_LEGACY: Final[Mapping[str, tuple[str, Callable[[str, str, str, str], ParsedKey]]]] = (
    MappingProxyType(
        {
            "styles": ("style", LegacyStyleKey),
            "shot_types": ("shot_type", LegacyShotTypeKey),
            "organizations": ("organization", LegacyOrganizationKey),
        }
    )
)


_MATCHERS: Final[Mapping[str, Callable[[list[str]], ParsedKey | None]]] = MappingProxyType(
    {
        "media": _match_media,
        "temp": _match_temp,
        "compute": _match_compute,
        "images": _match_images,
        "shooting_looks": _match_shooting_looks,
    }
)


def _match_specific(key: str) -> ParsedKey | None:
    """The specific kind a valid NFC key round-trips through, or ``None``."""
    segs = key.split("/")
    matcher = _MATCHERS.get(segs[0])
    if matcher is None:
        return None
    try:
        parsed = matcher(segs)
    except InvalidKeyError:
        return None  # looks like the pattern but a field breaks its rules
    return parsed if parsed is not None and parsed.key == key else None


def parse_key(key: str) -> ParsedKey:
    """Parse any key into its kind.

    Raises :class:`InvalidKeyError` only if ``validate_key`` does. A valid key that matches no
    pattern becomes its zone's :class:`OtherKey` or :class:`UnknownKey`; ``.key`` of the result
    is always the NFC form of the input.
    """
    key = validate_key(key)
    specific = _match_specific(key)
    if specific is not None:
        return specific
    zone = classify(key)
    return UnknownKey(key) if zone is Zone.unknown else OtherKey(key, zone)


# --- builders ----------------------------------------------------------------------------------


def new_media_key(extension: str) -> MediaKey:
    """A fresh canonical key; the extension is normalised (``JPEG`` → ``jpg``)."""
    return MediaKey(uuid4(), normalize_extension(extension))


def new_temp_upload_key(
    filename: str, content_type: str | None = None, now: int | None = None
) -> TempUploadKey:
    """A fresh staging key for a browser upload, its name made safe by ``safe_filename``."""
    timestamp = int(time.time()) if now is None else now
    return TempUploadKey(uuid4().hex, timestamp, safe_filename(filename, content_type=content_type))
