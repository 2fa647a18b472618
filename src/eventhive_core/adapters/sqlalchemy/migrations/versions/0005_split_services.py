"""The split: a database names the service it belongs to, and a replica may hold more units than a capacity it was told.

``service_role`` holds one row in the database of a split service (``eventhive service ROLE``),
so no other role starts on it. ``ticket_stripes.frozen`` marks the stripes of a replica whose
source lowered the capacity below the units the replica had already seen taken: they keep
sharing those units (more than the capacity), and on PostgreSQL the shares trigger accepts that
for such a ticket only. ``uq_payments_idempotency_key`` makes two claims of one attempt collide where no
write on the order serialises them (the payments service keeps orders as a replica it never writes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eventhive_core.adapters.sqlalchemy.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# CREATE OR REPLACE keeps the triggers that call it (0004 created them).
_SHARES_FUNCTION = """
CREATE OR REPLACE FUNCTION eventhive_stripes_share_capacity() RETURNS trigger AS $$
DECLARE
    ticket text := to_jsonb(NEW) ->> TG_ARGV[0];
    ticket_capacity integer;
    over boolean;
    shares bigint;
BEGIN
    SELECT capacity INTO ticket_capacity FROM tickets WHERE id = ticket;
    SELECT coalesce(sum(capacity), 0), coalesce(bool_or(frozen), false) INTO shares, over
      FROM ticket_stripes WHERE ticket_id = ticket;
    IF ticket_capacity IS NOT NULL AND shares <> ticket_capacity AND NOT (over AND shares > ticket_capacity) THEN
        RAISE EXCEPTION 'ticket % has capacity % but its stripes share %', ticket, ticket_capacity, shares
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_ticket_stripes_share_capacity';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
#: 0004's function in effect: no ticket is ever over-committed.
_SHARES_FUNCTION_0004 = _SHARES_FUNCTION.replace("coalesce(bool_or(frozen), false) INTO", "false INTO")


def upgrade() -> None:
    """Add ``service_role``, ``ticket_stripes.frozen`` and one attempt per key; let the trigger take over-commits."""
    op.create_table(
        "service_role",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_service_role_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_role")),
    )
    # NOT NULL with a default: SQLite adds it without rebuilding the table.
    op.add_column("ticket_stripes", sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("uq_payments_idempotency_key", "payments", ["idempotency_key"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SHARES_FUNCTION)


def downgrade() -> None:
    """Drop them (a database of a split service becomes an unmarked one)."""
    op.drop_index("uq_payments_idempotency_key", table_name="payments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SHARES_FUNCTION_0004)
    with op.batch_alter_table("ticket_stripes") as batch:
        batch.drop_column("frozen")
    op.drop_table("service_role")
