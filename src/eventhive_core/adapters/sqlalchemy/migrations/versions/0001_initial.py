"""Initial schema: users, tickets, orders, payments, outbox, processed ids, idempotency keys, revoked tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eventhive_core.adapters.sqlalchemy.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id(name: str = "id") -> sa.Column[str]:
    return sa.Column(name, sa.String(length=36), nullable=False)


def upgrade() -> None:
    """Create every table of the SQL storage with its constraints and indexes."""
    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("banned_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "tickets",
        _id(),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _id("owner_id"),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("units_held", sa.Integer(), server_default="0", nullable=False),
        sa.Column("units_sold", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_tickets_capacity_not_negative")),
        sa.CheckConstraint(
            "units_held >= 0 AND units_sold >= 0 AND units_held + units_sold <= capacity",
            name=op.f("ck_tickets_units_within_capacity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(
        "ix_tickets_available",
        "tickets",
        ["created_at", "id"],
        postgresql_where=sa.text("units_sold < capacity"),
        sqlite_where=sa.text("units_sold < capacity"),
    )
    op.create_index("ix_tickets_owner", "tickets", ["owner_id", "created_at", "id"])
    op.create_table(
        "orders",
        _id(),
        _id("ticket_id"),
        _id("buyer_id"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancel_reason", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'awaiting:payment', 'complete', 'cancelled')", name=op.f("ck_orders_status_known")
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_orders_quantity_positive")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_orders_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_buyer", "orders", ["buyer_id", "created_at", "id"])
    op.create_index("ix_orders_due", "orders", ["status", "expires_at"])
    op.create_index("ix_orders_ticket_hold", "orders", ["ticket_id", "status", "expires_at"])
    op.create_table(
        "payments",
        _id(),
        _id("order_id"),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_order", "payments", ["order_id", "created_at"])
    op.create_index("ix_payments_provider_ref", "payments", ["provider", "provider_ref"])
    op.create_index(
        "uq_payments_one_succeeded",
        "payments",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
        sqlite_where=sa.text("status = 'succeeded'"),
    )
    op.create_table(
        "outbox",
        _id(),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["occurred_at", "id"],
        postgresql_where=sa.text("sent_at IS NULL AND NOT dead"),
        sqlite_where=sa.text("sent_at IS NULL AND NOT dead"),
    )
    op.create_table(
        "processed_messages",
        sa.Column("subscriber", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "message_id", name=op.f("pk_processed_messages")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    """Drop every table of the SQL storage."""
    for table in (
        "revoked_tokens",
        "idempotency_keys",
        "processed_messages",
        "outbox",
        "payments",
        "orders",
        "tickets",
        "users",
    ):
        op.drop_table(table)
