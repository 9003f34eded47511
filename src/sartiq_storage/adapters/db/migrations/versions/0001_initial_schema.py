"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_deletion_dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_deletion_dead_letters")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_media_deletion_dead_letters_storage_key")),
    )
    with op.batch_alter_table("media_deletion_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_deletion_dead_letters_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "media_deletion_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_deletion_outbox")),
    )
    with op.batch_alter_table("media_deletion_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_deletion_outbox_not_before"), ["not_before"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_media_deletion_outbox_storage_key"), ["storage_key"], unique=False
        )

    op.create_table(
        "media_resources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "resource_type",
            sa.Enum("IMAGE", "VIDEO", name="resource_type", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("extension", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("dominant_color", sa.String(length=7), nullable=True),
        sa.Column("protected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("alt_text", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("color_profile", sa.String(length=255), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detached_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_resources")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_media_resources_content_hash")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_media_resources_storage_key")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint(
            "owner_id",
            "organization_id",
            "name",
            name=op.f("uq_tags_owner_id_organization_id_name"),
        ),
    )
    op.create_table(
        "media_ingestions",
        sa.Column("source_key", sa.String(length=1024), nullable=False),
        sa.Column("media_resource_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_resource_id"],
            ["media_resources.id"],
            name=op.f("fk_media_ingestions_media_resource_id_media_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_media_ingestions")),
    )
    with op.batch_alter_table("media_ingestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_ingestions_media_resource_id"), ["media_resource_id"], unique=False
        )

    op.create_table(
        "media_resource_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("media_resource_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_resource_id"],
            ["media_resources.id"],
            name=op.f("fk_media_resource_attachments_media_resource_id_media_resources"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_resource_attachments")),
    )
    with op.batch_alter_table("media_resource_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_attachments_entity", ["entity_type", "entity_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_media_resource_attachments_media_resource_id"),
            ["media_resource_id"],
            unique=False,
        )
    # One attachment per slot and position; a NULL position (single slot) counts as -1.
    op.create_index(
        "uq_attachment_slot",
        "media_resource_attachments",
        ["entity_type", "entity_id", "slot", sa.text("coalesce(position, -1)")],
        unique=True,
    )

    op.create_table(
        "media_resource_tags",
        sa.Column("media_resource_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_resource_id"],
            ["media_resources.id"],
            name=op.f("fk_media_resource_tags_media_resource_id_media_resources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_media_resource_tags_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_resource_id", "tag_id", name=op.f("pk_media_resource_tags")),
    )
    with op.batch_alter_table("media_resource_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_resource_tags_tag_id"), ["tag_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_resource_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_resource_tags_tag_id"))

    op.drop_table("media_resource_tags")
    op.drop_index("uq_attachment_slot", table_name="media_resource_attachments")
    with op.batch_alter_table("media_resource_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_resource_attachments_media_resource_id"))
        batch_op.drop_index("ix_attachments_entity")

    op.drop_table("media_resource_attachments")
    with op.batch_alter_table("media_ingestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_ingestions_media_resource_id"))

    op.drop_table("media_ingestions")
    op.drop_table("tags")
    op.drop_table("media_resources")
    with op.batch_alter_table("media_deletion_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_deletion_outbox_storage_key"))
        batch_op.drop_index(batch_op.f("ix_media_deletion_outbox_not_before"))

    op.drop_table("media_deletion_outbox")
    with op.batch_alter_table("media_deletion_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_deletion_dead_letters_next_attempt_at"))

    op.drop_table("media_deletion_dead_letters")
