"""content_hash unique together with collision_rank (MD5 collisions become two resources)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite rebuilds the table for this; migrate.py turns foreign keys off around it.
    with op.batch_alter_table("media_resources") as batch:
        batch.add_column(
            sa.Column("collision_rank", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.drop_constraint("uq_media_resources_content_hash", type_="unique")
        batch.create_unique_constraint(
            "uq_media_resources_content_hash_collision_rank", ["content_hash", "collision_rank"]
        )


def downgrade() -> None:
    with op.batch_alter_table("media_resources") as batch:
        batch.drop_constraint("uq_media_resources_content_hash_collision_rank", type_="unique")
        batch.create_unique_constraint("uq_media_resources_content_hash", ["content_hash"])
        batch.drop_column("collision_rank")
