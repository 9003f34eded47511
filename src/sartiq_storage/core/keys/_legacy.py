"""The legacy layouts (``images/…``, ``shooting_looks/…``): read, parsed, migrated, never
written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sartiq_storage.core.keys._fields import _extension, _free, _token, _whole
from sartiq_storage.core.keys._kinds import _KeyMixin
from sartiq_storage.core.keys._zones import Zone


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
