"""Tags and their assignment to media resources (the platform's tag endpoints)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceTag, Tag
from sartiq_storage.core.errors import ConflictError, InvalidMediaInputError, MediaNotFoundError


class TagService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        owner_id: str,
        name: str,
        *,
        color: str | None = None,
        description: str | None = None,
        organization_id: uuid.UUID | None = None,
    ) -> Tag:
        name = name.strip()
        if not name:
            raise InvalidMediaInputError("tag name must not be empty")
        tag = Tag(
            name=name,
            color=color,
            description=description,
            owner_id=owner_id,
            organization_id=organization_id,
        )
        try:
            with self.db.session() as session:
                # NULL organisations are distinct to a unique constraint, so check here too.
                same = session.scalar(
                    select(Tag.id).where(
                        Tag.owner_id == owner_id,
                        Tag.name == name,
                        Tag.organization_id.is_(None)
                        if organization_id is None
                        else Tag.organization_id == organization_id,
                    )
                )
                if same is not None:
                    raise IntegrityError("duplicate tag", None, Exception(name))
                session.add(tag)
        except IntegrityError:
            raise ConflictError(f"a tag named {name!r} already exists") from None
        return tag

    def list_for(self, owner_id: str, organization_id: uuid.UUID | None = None) -> list[Tag]:
        with self.db.session() as session:
            query = select(Tag).where(Tag.owner_id == owner_id).order_by(Tag.name)
            if organization_id is not None:
                query = query.where(Tag.organization_id == organization_id)
            return list(session.scalars(query))

    def _tag(self, session: Session, tag_id: uuid.UUID, owner_id: str | None = None) -> Tag:
        """The tag; with ``owner_id``, only when that caller owns it (another owner's tag is
        "not found", as it is absent from their list)."""
        tag = session.get(Tag, tag_id)
        if tag is None or (owner_id is not None and tag.owner_id != owner_id):
            raise MediaNotFoundError(f"tag {tag_id} not found")
        return tag

    def get(self, tag_id: uuid.UUID, owner_id: str | None = None) -> Tag:
        with self.db.session() as session:
            return self._tag(session, tag_id, owner_id)

    def update(self, tag_id: uuid.UUID, owner_id: str | None = None, **values: str | None) -> Tag:
        try:
            with self.db.session() as session:
                tag = self._tag(session, tag_id, owner_id)
                for name, value in values.items():
                    if name == "name" and (value is None or not value.strip()):
                        raise InvalidMediaInputError("tag name must not be empty")
                    setattr(tag, name, value.strip() if name == "name" and value else value)
                # NULL organisations are distinct to the unique constraint: check, as create does.
                same = session.scalar(
                    select(Tag.id).where(
                        Tag.id != tag.id,
                        Tag.owner_id == tag.owner_id,
                        Tag.name == tag.name,
                        Tag.organization_id.is_(None)
                        if tag.organization_id is None
                        else Tag.organization_id == tag.organization_id,
                    )
                )
                if same is not None:
                    raise IntegrityError("duplicate tag", None, Exception(tag.name))
                return tag
        except IntegrityError:
            raise ConflictError("a tag with that name already exists") from None

    def delete(self, tag_id: uuid.UUID, owner_id: str | None = None) -> None:
        with self.db.session() as session:
            session.delete(self._tag(session, tag_id, owner_id))

    # -- media resource tags -----------------------------------------------------------------

    def _resource(self, session: Session, resource_id: uuid.UUID) -> None:
        if session.get(MediaResource, resource_id) is None:
            raise MediaNotFoundError(f"media resource {resource_id} not found")

    def _tags_of(self, session: Session, resource_id: uuid.UUID) -> list[Tag]:
        return list(
            session.scalars(
                select(Tag)
                .join(MediaResourceTag, MediaResourceTag.tag_id == Tag.id)
                .where(MediaResourceTag.media_resource_id == resource_id)
                .order_by(Tag.name)
            )
        )

    def tags_of(self, resource_id: uuid.UUID) -> list[Tag]:
        with self.db.session() as session:
            self._resource(session, resource_id)
            return self._tags_of(session, resource_id)

    def assign(
        self, resource_id: uuid.UUID, tag_ids: Sequence[uuid.UUID], owner_id: str | None = None
    ) -> list[Tag]:
        """Add tags (already assigned ones are kept); with ``owner_id``, only that caller's
        tags (another owner's is "not found", as when read by id)."""
        with self.db.session() as session:
            self._resource(session, resource_id)
            current = {t.id for t in self._tags_of(session, resource_id)}
            for tag_id in dict.fromkeys(tag_ids):
                self._tag(session, tag_id, owner_id)
                if tag_id not in current:
                    session.add(MediaResourceTag(media_resource_id=resource_id, tag_id=tag_id))
            session.flush()
            return self._tags_of(session, resource_id)

    def replace(
        self, resource_id: uuid.UUID, tag_ids: Sequence[uuid.UUID], owner_id: str | None = None
    ) -> list[Tag]:
        """Set exactly these tags; with ``owner_id``, each must be that caller's."""
        with self.db.session() as session:
            self._resource(session, resource_id)
            for tag_id in tag_ids:
                self._tag(session, tag_id, owner_id)
            session.execute(
                delete(MediaResourceTag).where(MediaResourceTag.media_resource_id == resource_id)
            )
            for tag_id in dict.fromkeys(tag_ids):
                session.add(MediaResourceTag(media_resource_id=resource_id, tag_id=tag_id))
            session.flush()
            return self._tags_of(session, resource_id)

    def remove(self, resource_id: uuid.UUID, tag_ids: Sequence[uuid.UUID]) -> list[Tag]:
        with self.db.session() as session:
            self._resource(session, resource_id)
            session.execute(
                delete(MediaResourceTag).where(
                    MediaResourceTag.media_resource_id == resource_id,
                    MediaResourceTag.tag_id.in_(list(tag_ids)),
                )
            )
            return self._tags_of(session, resource_id)
