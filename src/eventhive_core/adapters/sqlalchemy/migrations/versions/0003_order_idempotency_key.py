"""Orders record the buyer's Idempotency-Key, unique per buyer, so a retry after a crash finds its order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_KEYED = "idempotency_key IS NOT NULL"


def upgrade() -> None:
    """Add ``orders.idempotency_key`` and its partial unique index on ``(buyer_id, idempotency_key)``."""
    # A nullable ADD COLUMN: existing orders have no key, and SQLite needs no table rebuild.
    op.add_column("orders", sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    op.create_index(
        "uq_orders_buyer_idempotency_key",
        "orders",
        ["buyer_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text(_KEYED),
        sqlite_where=sa.text(_KEYED),
    )


def downgrade() -> None:
    """Drop the index and the column (SQLite needs a table rebuild for the column: batch mode)."""
    op.drop_index("uq_orders_buyer_idempotency_key", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("idempotency_key")
