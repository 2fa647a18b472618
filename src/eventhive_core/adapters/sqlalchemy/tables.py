"""Table metadata of the SQL storage (SQLAlchemy Core; the domain never sees it).

A ticket's units are counted in its **stripes** (``ticket_stripes``): its capacity is split into
shares, one row each, with ``held`` and ``sold`` counters under a CHECK constraint, so a
reservation is one conditional UPDATE of one stripe (docs/storage/sqlalchemy.md), buyers of one
ticket lock different rows, and a bug becomes an error, never an oversell. The shares always add
up to the ticket's capacity (on PostgreSQL a deferred constraint trigger checks it at commit).
User ids carry no foreign key: an identity plugin may authenticate users that live elsewhere.
Every timestamp goes through :class:`UTCDateTime`, which refuses naive values.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

#: Constraint names that Alembic can reproduce and compare on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: Order statuses that hold units while their hold has not run out (``OrderStatus`` values).
HOLDING = ("created", "awaiting:payment")


class NaiveDatetimeError(ValueError):
    """Raised when a naive datetime reaches the database: EventHive stores aware UTC only."""


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp column that accepts only aware datetimes and always returns aware UTC.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones: values are stored as naive
    UTC text in one fixed format (so text order is time order) and come back as aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values and convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"Refusing naive datetime {value.isoformat()}: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return stored values as aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id(name: str = "id", *args: sa.ForeignKey, primary_key: bool = False, nullable: bool = False) -> sa.Column[str]:
    # UUIDv7 text: canonical, lower-case, time-ordered.
    return sa.Column(name, sa.String(36), *args, primary_key=primary_key, nullable=nullable)


users = sa.Table(
    "users",
    metadata,
    _id(primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("banned_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("email"),
    sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
)

tickets = sa.Table(
    "tickets",
    metadata,
    _id(primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _id("owner_id", nullable=False),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    # The listings' keyset order.
    sa.Index("ix_tickets_created", "created_at", "id"),
    sa.Index("ix_tickets_owner", "owner_id", "created_at", "id"),
)

ticket_stripes = sa.Table(
    "ticket_stripes",
    metadata,
    _id("ticket_id", sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("stripe", sa.SmallInteger(), nullable=False),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("held", sa.Integer(), nullable=False),
    sa.Column("sold", sa.Integer(), nullable=False),
    # Set on every stripe of an over-committed ticket (a replica told of a capacity below the units
    # it had seen taken): the shares then add up to more than the capacity, and reservations go to
    # the margin, which refuses them until the units fit and then deals the shares out again.
    sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("ticket_id", "stripe"),
    sa.CheckConstraint("held >= 0 AND sold >= 0 AND held + sold <= capacity", name="units_within_capacity"),
    sa.CheckConstraint("stripe >= 0", name="stripe_not_negative"),
)

orders = sa.Table(
    "orders",
    metadata,
    _id(primary_key=True),
    _id("ticket_id", sa.ForeignKey("tickets.id"), nullable=False),
    _id("buyer_id", nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("cancel_reason", sa.String(20), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    # The ticket stripe its units are counted in (see ticket_stripes); it never changes.
    sa.Column("stripe", sa.SmallInteger(), nullable=False, server_default="0"),
    sa.CheckConstraint("quantity >= 1", name="quantity_positive"),
    sa.CheckConstraint("status IN ('created', 'awaiting:payment', 'complete', 'cancelled')", name="status_known"),
    # Live holds of one ticket (listing, units) and its due holds (in-line reclaim).
    sa.Index("ix_orders_ticket_hold", "ticket_id", "status", "expires_at"),
    # Due holds of every ticket (sweeper).
    sa.Index("ix_orders_due", "status", "expires_at"),
    # A buyer's orders, keyset-paginated.
    sa.Index("ix_orders_buyer", "buyer_id", "created_at", "id"),
    # One order per buyer and Idempotency-Key, committed with the order itself; finds it for a retry.
    sa.Index(
        "uq_orders_buyer_idempotency_key",
        "buyer_id",
        "idempotency_key",
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
    ),
)

payments = sa.Table(
    "payments",
    metadata,
    _id(primary_key=True),
    _id("order_id", sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("provider_ref", sa.String(255), nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("method_digest", sa.String(64), nullable=True),
    sa.Column("charging_until", UTCDateTime(), nullable=True),
    sa.Index("ix_payments_order", "order_id", "created_at"),
    sa.Index("ix_payments_provider_ref", "provider", "provider_ref"),
    # One attempt per key (``order:<id>:pay:<n>``): of two claims of an order's next attempt, one
    # loses here, also where no guarded write on the order serialises them (a split's payments).
    sa.Index("uq_payments_idempotency_key", "idempotency_key", unique=True),
    # At most one succeeded payment per order, whatever the service layer does.
    sa.Index(
        "uq_payments_one_succeeded",
        "order_id",
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
        sqlite_where=sa.text("status = 'succeeded'"),
    ),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("claimed_until", UTCDateTime(), nullable=True),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("dead", sa.Boolean(), nullable=False, server_default=sa.false()),
    # What the relay claims: unsent, not dead, oldest first. Sent rows drop out of the index.
    sa.Index(
        "ix_outbox_unsent",
        "occurred_at",
        "id",
        postgresql_where=sa.text("sent_at IS NULL AND NOT dead"),
        sqlite_where=sa.text("sent_at IS NULL AND NOT dead"),
    ),
)

processed_messages = sa.Table(
    "processed_messages",
    metadata,
    sa.Column("subscriber", sa.String(200), primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("processed_at", UTCDateTime(), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

#: The split service this database belongs to (one row; none for the whole platform in one process).
service_role = sa.Table(
    "service_role",
    metadata,
    # Always 1: two services claiming an empty database at once cannot both insert their row.
    sa.Column("id", sa.SmallInteger(), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("claimed_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("id = 1", name="one_row"),
)

revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_revoked_tokens_expires_at", "expires_at"),
)

__all__ = [
    "HOLDING",
    "NAMING_CONVENTION",
    "NaiveDatetimeError",
    "UTCDateTime",
    "idempotency_keys",
    "metadata",
    "orders",
    "outbox",
    "payments",
    "processed_messages",
    "revoked_tokens",
    "service_role",
    "ticket_stripes",
    "tickets",
    "users",
]
