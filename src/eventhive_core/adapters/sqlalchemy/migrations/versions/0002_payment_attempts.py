"""Payment attempts: a version for guarded writes, the card's digest, and the lease of an in-flight charge.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eventhive_core.adapters.sqlalchemy.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``version``, ``method_digest`` and ``charging_until`` to ``payments``."""
    # Plain ADD COLUMN: SQLite accepts NOT NULL with a constant default, so no table rebuild is needed.
    op.add_column("payments", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("payments", sa.Column("method_digest", sa.String(length=64), nullable=True))
    op.add_column("payments", sa.Column("charging_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the three columns (SQLite needs a table rebuild for that: batch mode)."""
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("charging_until")
        batch.drop_column("method_digest")
        batch.drop_column("version")
