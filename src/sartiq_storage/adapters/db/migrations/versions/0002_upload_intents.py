"""upload intents

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_intents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("filename", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("declared_size", sa.BigInteger(), nullable=True),
        sa.Column("requester", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("media_resource_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_intents")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_upload_intents_storage_key")),
    )
    with op.batch_alter_table("upload_intents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_intents_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_upload_intents_requester"), ["requester"])


def downgrade() -> None:
    with op.batch_alter_table("upload_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_intents_requester"))
        batch_op.drop_index(batch_op.f("ix_upload_intents_expires_at"))
    op.drop_table("upload_intents")
