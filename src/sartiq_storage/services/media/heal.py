"""Heal: repair what can be repaired about media resources, report the rest.

* a missing canonical object is restored from a known source (an ingested upload or compute
  result that still exists and has the same MD5); a missing legacy object (``images/``,
  ``shooting_looks/``, registered in place by the migration) is reported, never written back:
  legacy layouts are read-only;
* missing metadata (dimensions, dominant colour, colour profile; a video's duration, codec and
  frame rate) is re-extracted
  (not the colour of a HEIF or AVIF too big to decode within the memory bound, which no
  later run could find either: ``media_probe.HEIF_DECODE_PIXELS``);
* a missing SHA-256 is recomputed.

Idempotent: a second run finds nothing to do. ``dry_run`` reports without changing anything.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, not_, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaIngestion, MediaResource, ResourceType
from sartiq_storage.adapters.media_probe import (
    HEIF_DECODE_PIXELS,
    HEIF_EXTENSIONS,
    MediaProbeError,
    heif_colour_decodable,
    probe,
    probe_video_file,
)
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.adapters.stores.ranged import RangedReader
from sartiq_storage.core.errors import ObjectNotFoundError, PreconditionFailedError
from sartiq_storage.core.keys import is_legacy
from sartiq_storage.services.media.hashing import stream_digests

IMMUTABLE = "public, max-age=31536000, immutable"
_PAGE = 200


@dataclass(slots=True)
class HealResult:
    dry_run: bool
    checked: int = 0
    fixed: list[dict[str, str]] = field(default_factory=list)
    unfixable: list[dict[str, str]] = field(default_factory=list)


def _needs_metadata(resource: MediaResource) -> bool:
    if resource.width is None or resource.height is None:
        return True
    if resource.resource_type is ResourceType.IMAGE:
        colour = resource.dominant_color is None and (
            resource.extension not in HEIF_EXTENSIONS
            or heif_colour_decodable(resource.width, resource.height)
        )
        return colour or resource.color_profile is None
    return resource.duration is None or resource.codec is None or resource.frame_rate is None


class Healer:
    def __init__(self, db: Database, store: ObjectStore) -> None:
        self.db = db
        self.store = store

    def heal(
        self, resource_ids: Sequence[uuid.UUID] | None = None, *, dry_run: bool = True
    ) -> HealResult:
        result = HealResult(dry_run=dry_run)
        if resource_ids is not None:
            for start in range(0, len(resource_ids), _PAGE):
                self._heal_page(list(resource_ids[start : start + _PAGE]), result)
            return result
        after: uuid.UUID | None = None
        while True:
            with self.db.session() as session:
                query = select(MediaResource.id).order_by(MediaResource.id).limit(_PAGE)
                if after is not None:
                    query = query.where(MediaResource.id > after)
                ids = list(session.scalars(query))
            if not ids:
                return result
            self._heal_page(ids, result)
            after = ids[-1]

    def heal_incomplete(self, *, limit: int = 1000, dry_run: bool = False) -> HealResult:
        """Heal only resources with missing metadata or hash (the worker's enrichment pass).

        Cheap to run often: it selects by null columns, so complete resources cost nothing.
        """
        with self.db.session() as session:
            ids = list(
                session.scalars(
                    select(MediaResource.id)
                    .where(
                        (MediaResource.sha256.is_(None))
                        | (MediaResource.width.is_(None))
                        | (
                            (MediaResource.resource_type == ResourceType.IMAGE)
                            & (MediaResource.dominant_color.is_(None))
                            & not_(
                                and_(
                                    MediaResource.extension.in_(sorted(HEIF_EXTENSIONS)),
                                    MediaResource.width * MediaResource.height > HEIF_DECODE_PIXELS,
                                )
                            )
                        )
                    )
                    .order_by(MediaResource.id)
                    .limit(limit)
                )
            )
        return self.heal(ids, dry_run=dry_run)

    def _heal_page(self, ids: list[uuid.UUID], result: HealResult) -> None:
        for resource_id in ids:
            with self.db.session() as session:
                resource = session.get(MediaResource, resource_id)
                sources = list(
                    session.scalars(
                        select(MediaIngestion.source_key).where(
                            MediaIngestion.media_resource_id == resource_id
                        )
                    )
                )
            if resource is None:
                result.unfixable.append({"id": str(resource_id), "problem": "no such resource"})
                continue
            result.checked += 1
            self._heal_one(resource, sources, result)

    def _restore(self, resource: MediaResource, sources: list[str], dry_run: bool) -> str | None:
        for source in sources:
            if source == resource.storage_key:
                continue
            try:
                with self.store.get(source) as stream:  # one read: the bytes and their ETag
                    info, data = stream.info, stream.read()
            except ObjectNotFoundError:
                continue
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if info.size != resource.file_size or digest != resource.content_hash:
                continue
            if not dry_run:
                try:
                    self.store.copy(
                        source,
                        resource.storage_key,
                        content_type=resource.content_type,
                        cache_control=IMMUTABLE,
                        if_absent=True,
                        source_info=info,  # the bytes just hashed, not whatever is there now
                    )
                except PreconditionFailedError as exc:
                    if exc.key != source:
                        raise
                    continue  # the source changed since it was hashed: not a copy of ours
            return source
        return None

    def _heal_one(self, resource: MediaResource, sources: list[str], result: HealResult) -> None:
        rid = str(resource.id)
        if not self.store.exists(resource.storage_key):
            if is_legacy(resource.storage_key):
                # Found, never copied: legacy layouts are never written (docs/operations.md).
                copy = self._restore(resource, sources, dry_run=True)
                where = f"; the same bytes are at {copy}" if copy else ""
                result.unfixable.append(
                    {
                        "id": rid,
                        "problem": f"object {resource.storage_key} is missing "
                        f"(legacy keys are never written{where})",
                    }
                )
                return
            restored_from = self._restore(resource, sources, result.dry_run)
            if restored_from is None:
                result.unfixable.append(
                    {"id": rid, "problem": f"object {resource.storage_key} is missing"}
                )
                return
            result.fixed.append({"id": rid, "fix": f"object restored from {restored_from}"})
            if result.dry_run:
                return
        if not (_needs_metadata(resource) or resource.sha256 is None):
            return
        video = resource.resource_type is ResourceType.VIDEO
        # A video is never read whole: hashed as a stream, probed through ranged reads.
        data = b"" if video else self.store.get_bytes(resource.storage_key)
        updates: dict[str, Any] = {}
        if resource.sha256 is None:
            updates["sha256"] = (
                stream_digests(self.store, resource.storage_key, "sha256")["sha256"]
                if video
                else hashlib.sha256(data).hexdigest()
            )
        if _needs_metadata(resource):
            try:
                if video:
                    info = self.store.head(resource.storage_key)
                    meta = probe_video_file(RangedReader(self.store, info))  # type: ignore[arg-type]
                else:
                    meta = probe(data, resource.resource_type.value)
            except MediaProbeError as exc:
                result.unfixable.append({"id": rid, "problem": f"metadata unreadable: {exc}"})
                meta = None
            if meta is not None:
                candidates = {
                    "width": meta.width,
                    "height": meta.height,
                    "dominant_color": meta.dominant_color,
                    "color_profile": meta.color_profile,
                    "duration": meta.duration,
                    "codec": meta.codec,
                    "frame_rate": meta.frame_rate,
                }
                for name, value in candidates.items():
                    if value is not None and getattr(resource, name) is None:
                        updates[name] = value
        if not updates:
            return
        result.fixed.append({"id": rid, "fix": "filled " + ", ".join(sorted(updates))})
        if result.dry_run:
            return
        with self.db.session() as session:
            row = session.get(MediaResource, resource.id)
            if row is not None:
                for name, value in updates.items():
                    if getattr(row, name) is None:
                        setattr(row, name, value)
