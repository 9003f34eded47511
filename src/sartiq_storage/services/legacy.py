"""Backfill legacy ``images/`` and ``shooting_looks/`` objects into media resources.

Each legacy key names its entity (``images/products/{id}/product_{id}_{sku}_{uuid}_{type}.ext``),
so a resource can be registered and attached without anyone re-uploading anything:

* the object is **registered in place** (``storage_key`` is the legacy key): no copy, and the
  legacy object stays exactly where ``/files`` already serves it; legacy layouts are never
  written, so these resources are ``protected`` and the deletion queue refuses legacy keys;
* bytes already known (same MD5, confirmed by SHA-256) reuse the existing resource;
* the attachment comes from the key: entity type and id, and a slot from the image type
  (``cover`` → ``cover_image``). A second legacy image for the same slot takes the next list
  position, so nothing is dropped;
* a key already migrated is skipped (``media_ingestions`` remembers it), so a run can stop and
  resume anywhere, and a second run changes nothing;
* an entity id that is not a UUID (``images/products/abc123/…``: the attachments table holds
  UUIDs) still gets its object registered, protected and deduplicated, but no attachment:
  the report lists it under ``unattached`` with the reason, so it can be attached by its
  resource id once the entity's UUID is known;
* keys that name no entity (legacy temp images, layouts no pattern matches) are skipped, and
  every skipped key is reported with its reason (up to ``LISTED`` of each kind; the counts
  are always complete);
* a dry run (the default) only parses and counts; it reads no object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.models import (
    MediaIngestion,
    MediaResource,
    MediaResourceAttachment,
)
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.keys import (
    LegacyGenerationKey,
    LegacyOrganizationKey,
    LegacyProductKey,
    LegacyShotRevisionKey,
    LegacyShotTypeKey,
    LegacyStyleKey,
    LegacySubjectKey,
    ParsedKey,
    ShootingLookKey,
    parse_key,
)
from sartiq_storage.services.media.recording import new_resource
from sartiq_storage.services.media.service import AttachTo, MediaResourceService
from sartiq_storage.services.media.verification import (
    Verified,
    digests,
    read_upload,
    verify,
)

PREFIXES = ("images/", "shooting_looks/")
LISTED = 1000
"""Keys listed per kind (skipped, unattached, failed) in a report; counts are never capped."""


@dataclass(frozen=True, slots=True)
class LegacyTarget:
    entity_type: str
    entity_id: str
    slot: str


def slot_for(image_type: str) -> str:
    """``cover`` → ``cover_image``; a type that already names a slot is kept."""
    slot = image_type.lower()
    return slot if slot.endswith(("_image", "_images")) else f"{slot}_image"


def target_for(parsed: ParsedKey) -> LegacyTarget | None:
    """Which entity and slot a legacy key belongs to (None: nothing to attach to)."""
    match parsed:
        case LegacyProductKey():
            return LegacyTarget("PRODUCT", parsed.product_id, slot_for(parsed.image_type))
        case LegacyStyleKey():
            return LegacyTarget("STYLE", parsed.style_id, slot_for(parsed.image_type))
        case LegacyShotTypeKey():
            return LegacyTarget("SHOT_TYPE", parsed.shot_type_id, slot_for(parsed.image_type))
        case LegacyOrganizationKey():
            return LegacyTarget("ORGANIZATION", parsed.organization_id, slot_for(parsed.image_type))
        case LegacySubjectKey():
            return LegacyTarget("SUBJECT", parsed.subject_id, slot_for(parsed.image_type))
        case LegacyGenerationKey():
            return LegacyTarget("PREDICTION", parsed.prediction_id, slot_for(parsed.image_type))
        case LegacyShotRevisionKey():
            return LegacyTarget("SHOT_REVISION", parsed.revision_id, "image")
        case ShootingLookKey():
            return LegacyTarget("SHOOTING_LOOK", parsed.look_id, "outfit_image")
        case _:
            return None


@dataclass(slots=True)
class MigrationReport:
    applied: bool
    scanned: int = 0
    already_migrated: int = 0
    registered: int = 0
    deduplicated: int = 0
    would_migrate: int = 0
    unattached: int = 0
    """Registered (or, in a dry run, to be registered) without an attachment."""
    skipped: int = 0
    failed: int = 0
    by_entity: dict[str, int] = field(default_factory=dict)
    skipped_keys: list[dict[str, str]] = field(default_factory=list)
    unattached_keys: list[dict[str, str]] = field(default_factory=list)
    failed_keys: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LegacyMigration:
    def __init__(self, media: MediaResourceService) -> None:
        self.media = media
        self.db = media.db
        self.store = media.store

    def run(
        self,
        *,
        apply: bool = False,
        limit: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> MigrationReport:
        report = MigrationReport(applied=apply)
        for prefix in PREFIXES:
            for info in self.store.list(prefix):
                if limit is not None and report.scanned >= limit:
                    return report
                report.scanned += 1
                if progress is not None:
                    progress(1)
                self._one(info.key, report, apply)
        return report

    def _skip(self, report: MigrationReport, key: str, reason: str) -> None:
        report.skipped += 1
        if len(report.skipped_keys) < LISTED:
            report.skipped_keys.append({"key": key, "reason": reason})

    def _one(self, key: str, report: MigrationReport, apply: bool) -> None:
        try:
            parsed = parse_key(key)
        except StorageError as exc:
            self._skip(report, key, str(exc))
            return
        target = target_for(parsed)
        if target is None:
            self._skip(report, key, f"{parsed.entity_type} keys name no entity to attach to")
            return
        entity_id: uuid.UUID | None
        try:
            entity_id = uuid.UUID(target.entity_id)
        except ValueError:
            entity_id = None
        with self.db.session() as session:
            if session.get(MediaIngestion, key) is not None:
                report.already_migrated += 1
                return
        if entity_id is None:
            report.unattached += 1
            if len(report.unattached_keys) < LISTED:
                reason = (
                    f"{target.entity_type} id {target.entity_id!r} is not a UUID: "
                    f"{'registered' if apply else 'to be registered'} without an attachment"
                )
                report.unattached_keys.append({"key": key, "reason": reason})
        else:
            entity = target.entity_type
            report.by_entity[entity] = report.by_entity.get(entity, 0) + 1
        if not apply:
            report.would_migrate += 1
            return
        try:
            created = self._migrate(key, target.entity_type, entity_id, target.slot)
        except StorageError as exc:  # MediaError included
            report.failed += 1
            if len(report.failed_keys) < LISTED:
                report.failed_keys.append({"key": key, "reason": str(exc)})
            return
        if created:
            report.registered += 1
        else:
            report.deduplicated += 1

    def _migrate(self, key: str, entity_type: str, entity_id: uuid.UUID | None, slot: str) -> bool:
        """Register ``key`` in place (or reuse the resource with its bytes) and, when the
        entity id is a UUID, attach it; True when a resource was created."""
        verified = self._as_stored(verify(self.store, key, self.media.settings))
        attachments = self.media.attachments

        def work(session: Session) -> bool:
            if session.get(MediaIngestion, key) is not None:
                return False  # a concurrent run got here first
            resource = session.scalar(
                select(MediaResource).where(MediaResource.content_hash == verified.md5)
            )
            created = resource is None
            if resource is None:
                resource = new_resource(uuid.uuid4(), key, verified, self.media.clock())
                resource.protected = True  # legacy objects are never deleted
                session.add(resource)
                session.flush()
            session.add(MediaIngestion(source_key=key, media_resource_id=resource.id))
            if entity_id is None:
                return created
            attached, position = self._free_position(
                session, entity_type, entity_id, slot, resource.id
            )
            if not attached:
                target = AttachTo(entity_type, entity_id, slot, position)
                attachments.attach(session, resource, target)
            return created

        return run_transaction(self.db, work)

    def _as_stored(self, verified: Verified) -> Verified:
        """The legacy object as it is. Verification describes the bytes ingest would store
        (metadata stripped, a rotation or a HEIF re-encoded); a legacy key is never written,
        so its row must describe the bytes it holds: otherwise its hash and size lie, and a
        fresh upload of the same photo, cleaned to exactly those bytes, would match it and
        be served from here, metadata included (its clean upload deleted)."""
        if verified.payload is None:
            return verified
        settings = self.media.settings
        upload = read_upload(self.store, verified.key, settings.max_file_size)
        md5, sha256 = digests(upload.data)
        return replace(
            verified,
            size=len(upload.data),
            md5=md5,
            sha256=sha256 if verified.sha256 is not None else None,
            kind=upload.kind,
            payload=None,
            source=upload.info,
        )

    @staticmethod
    def _free_position(
        session: Session, entity_type: str, entity_id: uuid.UUID, slot: str, resource_id: uuid.UUID
    ) -> tuple[bool, int | None]:
        """(already attached, position): None for the slot's first image, else the next one."""
        rows = list(
            session.execute(
                select(
                    MediaResourceAttachment.media_resource_id, MediaResourceAttachment.position
                ).where(
                    MediaResourceAttachment.entity_type == entity_type,
                    MediaResourceAttachment.entity_id == entity_id,
                    MediaResourceAttachment.slot == slot,
                )
            )
        )
        if not rows:
            return False, None
        if any(rid == resource_id for rid, _ in rows):
            return True, None
        positions = [p for _, p in rows if p is not None]
        return False, max(positions) + 1 if positions else 0
