"""media_resources.codec and frame_rate: what PyAV reads from a video at ingest

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: an ALTER TABLE ADD COLUMN on both SQLite and PostgreSQL, no rebuild.
    # Videos ingested before stay null until `heal` probes them again.
    op.add_column("media_resources", sa.Column("codec", sa.String(length=32), nullable=True))
    op.add_column("media_resources", sa.Column("frame_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_resources") as batch:
        batch.drop_column("frame_rate")
        batch.drop_column("codec")
