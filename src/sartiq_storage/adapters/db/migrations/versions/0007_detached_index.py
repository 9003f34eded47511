"""a partial index on media_resources.detached_at (the orphan scan's unattached resources)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    detached = sa.text("detached_at IS NOT NULL")
    op.create_index(
        "ix_media_resources_detached_at",
        "media_resources",
        ["detached_at"],
        sqlite_where=detached,
        postgresql_where=detached,
    )


def downgrade() -> None:
    op.drop_index("ix_media_resources_detached_at", table_name="media_resources")
