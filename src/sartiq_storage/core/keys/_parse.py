"""One parser from a key string to its kind, the catch-all kinds it falls back to (a key is an
:class:`OtherKey` only when no specific kind reads it), and the builders of new keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from secrets import token_bytes
from types import MappingProxyType
from typing import ClassVar, Final, TypeAlias
from uuid import UUID, uuid4

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.filenames import normalize_extension, safe_filename
from sartiq_storage.core.keys._fields import (
    _COMPUTE_RESULT,
    _MEDIA_FILE,
    _TEMP_UPLOAD,
    _UUID_TEXT,
    _extension_of,
    _whole,
)
from sartiq_storage.core.keys._kinds import (
    ComputeResultKey,
    MediaKey,
    TempUploadKey,
    _KeyMixin,
)
from sartiq_storage.core.keys._legacy import (
    LegacyGenerationKey,
    LegacyOrganizationKey,
    LegacyProductKey,
    LegacyShotRevisionKey,
    LegacyShotTypeKey,
    LegacyStyleKey,
    LegacySubjectKey,
    LegacyTempKey,
    ShootingLookKey,
)
from sartiq_storage.core.keys._zones import Zone, classify
from sartiq_storage.core.validation import validate_key

# --- the catch-alls: what no specific kind matches ----------------------------------------


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
    return TempUploadKey(
        _uuid4_hex(), timestamp, safe_filename(filename, content_type=content_type)
    )


_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def _uuid4_hex() -> str:
    """``uuid4().hex`` (the same random bits, version and variant) without building a
    :class:`UUID`: one per presign."""
    value = int.from_bytes(token_bytes(16), "big")
    return f"{(value & _V4_CLEAR) | _V4_SET:032x}"
