"""A ticket's units are counted in stripes, so buyers of one ticket no longer queue on one row.

Each ticket's capacity is split into shares (``ticket_stripes``), each with its own ``held`` and
``sold`` counters under the CHECK that used to sit on the ticket; every order records the stripe
its units are counted in. Existing tickets get one stripe holding their whole capacity and their
counters, and existing orders are in it, so nothing changes for them. On PostgreSQL a deferred
constraint trigger checks at commit that a ticket's shares add up to its capacity.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UNITS_CHECK = "held >= 0 AND sold >= 0 AND held + sold <= capacity"
_OLD_UNITS_CHECK = "units_held >= 0 AND units_sold >= 0 AND units_held + units_sold <= capacity"
_NOT_SOLD_OUT = "units_sold < capacity"

# The ticket id column is given as the trigger's argument: one function serves both tables.
_SHARES_FUNCTION = """
CREATE FUNCTION eventhive_stripes_share_capacity() RETURNS trigger AS $$
DECLARE
    ticket text := to_jsonb(NEW) ->> TG_ARGV[0];
    ticket_capacity integer;
    shares bigint;
BEGIN
    SELECT capacity INTO ticket_capacity FROM tickets WHERE id = ticket;
    SELECT coalesce(sum(capacity), 0) INTO shares FROM ticket_stripes WHERE ticket_id = ticket;
    IF ticket_capacity IS NOT NULL AND shares <> ticket_capacity THEN
        RAISE EXCEPTION 'ticket % has capacity % but its stripes share %', ticket, ticket_capacity, shares
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_ticket_stripes_share_capacity';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_TRIGGERS = {
    # Fired only when a capacity is written: a reservation's UPDATE of held or sold never fires it.
    "ticket_stripes": ("stripes_share_capacity", "ticket_id"),
    "tickets": ("tickets_capacity_shared", "id"),
}


def upgrade() -> None:
    """Create ``ticket_stripes`` from the tickets' counters, add ``orders.stripe``, drop the old counters."""
    op.create_table(
        "ticket_stripes",
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.CheckConstraint(_UNITS_CHECK, name=op.f("ck_ticket_stripes_units_within_capacity")),
        sa.CheckConstraint("stripe >= 0", name=op.f("ck_ticket_stripes_stripe_not_negative")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_stripes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", "stripe", name=op.f("pk_ticket_stripes")),
    )
    op.execute(
        "INSERT INTO ticket_stripes (ticket_id, stripe, capacity, held, sold) "
        "SELECT id, 0, capacity, units_held, units_sold FROM tickets"
    )
    op.add_column("orders", sa.Column("stripe", sa.SmallInteger(), nullable=False, server_default="0"))
    op.drop_index("ix_tickets_available", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint(op.f("ck_tickets_units_within_capacity"), type_="check")
        batch.drop_column("units_held")
        batch.drop_column("units_sold")
    op.create_index("ix_tickets_created", "tickets", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SHARES_FUNCTION)
        for table, (name, column) in _TRIGGERS.items():
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OF capacity ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"EXECUTE FUNCTION eventhive_stripes_share_capacity('{column}')"
            )


def downgrade() -> None:
    """Put the counters back on the tickets (summed over their stripes) and drop the stripes."""
    if op.get_bind().dialect.name == "postgresql":
        for table, (name, _) in _TRIGGERS.items():
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION eventhive_stripes_share_capacity()")
    op.drop_index("ix_tickets_created", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("units_held", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("units_sold", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE tickets SET "
        "units_held = (SELECT coalesce(sum(held), 0) FROM ticket_stripes WHERE ticket_id = tickets.id), "
        "units_sold = (SELECT coalesce(sum(sold), 0) FROM ticket_stripes WHERE ticket_id = tickets.id)"
    )
    with op.batch_alter_table("tickets") as batch:
        batch.create_check_constraint("units_within_capacity", _OLD_UNITS_CHECK)
    op.create_index(
        "ix_tickets_available",
        "tickets",
        ["created_at", "id"],
        postgresql_where=sa.text(_NOT_SOLD_OUT),
        sqlite_where=sa.text(_NOT_SOLD_OUT),
    )
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("stripe")
    op.drop_table("ticket_stripes")
