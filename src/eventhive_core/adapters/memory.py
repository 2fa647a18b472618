"""Memory storage: every port in plain dicts, for unit tests, demos and the embedded default.

One process only. A unit of work takes the storage's lock for its whole life and works on
copies of the tables, which replace the originals only on commit; so units are serialised and
atomic, and the reservation rule is applied straight from its pure definition.

This module is also the built-in plugin ``builtin.memory_storage``: it registers the storage as
``memory`` (``EVENTHIVE_STORAGE``, the default).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from eventhive_core.domain.errors import ConcurrencyConflict, EmailInUse
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.domain.read_models import (
    Cursor,
    OrderView,
    Page,
    TicketView,
    UserView,
)
from eventhive_core.domain.reservation import Units, count_units
from eventhive_core.domain.ticket import Ticket
from eventhive_core.domain.user import User
from eventhive_core.markers import hookimpl
from eventhive_core.ports.messages import Message, OutboxBacklog, OutboxRecord
from eventhive_core.ports.storage import IdempotencyRecord

if TYPE_CHECKING:
    from eventhive_core.plugins.factories import RegisterStorage
    from eventhive_core.settings import HiveSettings


@dataclass
class _OutboxRow:
    message: Message
    occurred_at: datetime
    seq: int
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    dead: bool = False
    retry_at: datetime | None = None

    def record(self) -> OutboxRecord:
        return OutboxRecord(self.message, self.occurred_at, self.attempts, self.sent_at, self.last_error)


@dataclass
class _Tables:
    users: dict[str, User] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    revoked: dict[str, datetime] = field(default_factory=dict)
    outbox: dict[str, _OutboxRow] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)

    def copy(self) -> _Tables:
        # Entities are frozen, so copying the dicts is enough; outbox rows are mutable, so copy them too.
        return _Tables(
            users=dict(self.users),
            tickets=dict(self.tickets),
            orders=dict(self.orders),
            payments=dict(self.payments),
            revoked=dict(self.revoked),
            outbox={k: replace(v) for k, v in self.outbox.items()},
            processed=set(self.processed),
            idempotency=dict(self.idempotency),
        )


class _Users:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, user: User) -> None:
        if self.get_by_email(user.email) is not None:
            raise EmailInUse()
        self._tables.users[user.id] = user

    def get(self, user_id: str) -> User | None:
        return self._tables.users.get(user_id)

    def get_by_email(self, email: str) -> User | None:
        return next((u for u in self._tables.users.values() if u.email == email), None)

    def save(self, user: User) -> None:
        self._tables.users[user.id] = user


class _Tickets:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, ticket: Ticket) -> None:
        self._tables.tickets[ticket.id] = ticket

    def get(self, ticket_id: str) -> Ticket | None:
        return self._tables.tickets.get(ticket_id)

    def save(self, before: Ticket, after: Ticket, *, over_commit: bool = False) -> None:
        # Units are counted from the orders, so a capacity below them needs no bookkeeping:
        # reserve() refuses until they fit again.
        stored = self._tables.tickets.get(before.id)
        if stored is None or stored.version != before.version:
            raise ConcurrencyConflict()
        self._tables.tickets[after.id] = after

    def units(self, ticket_id: str, now: datetime) -> Units:
        ticket = self._tables.tickets[ticket_id]
        return count_units(ticket.capacity, (o for o in self._tables.orders.values() if o.ticket_id == ticket_id), now)

    def reserve(self, ticket_id: str, quantity: int, now: datetime, *, over_commit: bool = False) -> bool:
        # The unit holds the storage lock, so checking then adding the order is atomic here.
        if ticket_id not in self._tables.tickets:
            return False
        return over_commit or self.units(ticket_id, now).fits(quantity)


class _Orders:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, order: Order) -> None:
        key = order.idempotency_key
        if key is not None and self.by_idempotency_key(order.buyer_id, key) is not None:
            raise ConcurrencyConflict()
        self._tables.orders[order.id] = order

    def get(self, order_id: str) -> Order | None:
        return self._tables.orders.get(order_id)

    def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        return next(
            (o for o in self._tables.orders.values() if o.buyer_id == buyer_id and o.idempotency_key == key),
            None,
        )

    def save(self, before: Order, after: Order) -> None:
        stored = self._tables.orders.get(before.id)
        if stored is None or stored.version != before.version or stored.status is not before.status:
            raise ConcurrencyConflict()
        self._tables.orders[after.id] = after

    def due(self, now: datetime, limit: int, ticket_id: str | None = None) -> list[Order]:
        due = [
            o
            for o in self._tables.orders.values()
            if o.status in (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT)
            and o.expires_at <= now
            and (ticket_id is None or o.ticket_id == ticket_id)
        ]
        due.sort(key=lambda o: (o.expires_at, o.id))
        return due[:limit]

    def expire_due(self, now: datetime, limit: int) -> list[Order]:
        # The unit holds the storage lock, so reading the due orders then saving them is atomic.
        cancelled: list[Order] = []
        for order in self.due(now, limit):
            after = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED)
            self.save(order, after)
            cancelled.append(after)
        return cancelled


class _Payments:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, payment: Payment) -> None:
        if any(p.idempotency_key == payment.idempotency_key for p in self._tables.payments.values()):
            raise ConcurrencyConflict()
        self._check_one_success(payment)
        self._tables.payments[payment.id] = payment

    def get(self, payment_id: str) -> Payment | None:
        return self._tables.payments.get(payment_id)

    def for_order(self, order_id: str) -> list[Payment]:
        found = [p for p in self._tables.payments.values() if p.order_id == order_id]
        return sorted(found, key=lambda p: (p.created_at, p.id))

    def by_provider_ref(self, provider: str, provider_ref: str) -> Payment | None:
        found = [p for p in self._tables.payments.values() if (p.provider, p.provider_ref) == (provider, provider_ref)]
        return min(found, key=lambda p: p.created_at) if found else None

    def save(self, before: Payment, after: Payment) -> None:
        stored = self._tables.payments.get(before.id)
        if stored is None or stored.version != before.version:
            raise ConcurrencyConflict()
        self._check_one_success(after)
        self._tables.payments[after.id] = after

    def _check_one_success(self, payment: Payment) -> None:
        if payment.status is not PaymentStatus.SUCCEEDED:
            return
        for other in self._tables.payments.values():
            if (
                other.order_id == payment.order_id
                and other.id != payment.id
                and other.status is PaymentStatus.SUCCEEDED
            ):
                raise ConcurrencyConflict()


class _Revoked:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def revoke(self, jti: str, expires_at: datetime) -> None:
        self._tables.revoked[jti] = expires_at

    def is_revoked(self, jti: str) -> bool:
        return jti in self._tables.revoked


class _Outbox:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, message: Message, occurred_at: datetime) -> None:
        # seq keeps commit order for the relay even when the clock stands still.
        self._tables.outbox[message.id] = _OutboxRow(message, occurred_at, seq=len(self._tables.outbox))

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxRecord]:
        ready = [
            row
            for row in self._tables.outbox.values()
            if row.sent_at is None
            and not row.dead
            and (row.claimed_until is None or row.claimed_until <= now)
            and (row.retry_at is None or row.retry_at <= now)
        ]
        ready.sort(key=lambda r: r.seq)
        claimed = ready[:limit]
        for row in claimed:
            row.claimed_until = lease_until
        return [row.record() for row in claimed]

    def mark_sent(self, message_ids: Collection[str], now: datetime) -> None:
        for message_id in message_ids:
            row = self._tables.outbox[message_id]
            row.sent_at, row.claimed_until = now, None

    def mark_failed(self, message_id: str, error: str, retry_at: datetime, max_attempts: int) -> None:
        row = self._tables.outbox[message_id]
        row.attempts += 1
        row.last_error, row.retry_at, row.claimed_until = error, retry_at, None
        row.dead = row.attempts >= max_attempts

    def dead(self, limit: int) -> list[OutboxRecord]:
        return [row.record() for row in self._tables.outbox.values() if row.dead][:limit]

    def pending(self) -> int:
        return sum(1 for row in self._tables.outbox.values() if row.sent_at is None and not row.dead)

    def backlog(self) -> OutboxBacklog:
        unsent = [row.occurred_at for row in self._tables.outbox.values() if row.sent_at is None and not row.dead]
        return OutboxBacklog(len(unsent), min(unsent, default=None))


class _Processed:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, subscriber: str, message_id: str, now: datetime) -> bool:
        key = (subscriber, message_id)
        if key in self._tables.processed:
            return False
        self._tables.processed.add(key)
        return True

    def add_many(self, subscriber: str, message_ids: Sequence[str], now: datetime) -> set[str]:
        return {message_id for message_id in message_ids if self.add(subscriber, message_id, now)}


class _Idempotency:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def begin(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        existing = self._tables.idempotency.get((scope, key))
        if existing is not None and existing.expires_at > now:
            return existing
        self._tables.idempotency[(scope, key)] = IdempotencyRecord(fingerprint, None, None, expires_at)
        return None

    def finish(self, scope: str, key: str, status_code: int, body: str) -> None:
        record = self._tables.idempotency[(scope, key)]
        self._tables.idempotency[(scope, key)] = replace(record, status_code=status_code, body=body)

    def abandon(self, scope: str, key: str) -> None:
        self._tables.idempotency.pop((scope, key), None)


class MemoryUnitOfWork:
    """A transaction over the memory tables: holds the storage lock from enter to exit."""

    users: _Users
    tickets: _Tickets
    orders: _Orders
    payments: _Payments
    revoked_tokens: _Revoked
    outbox: _Outbox
    processed: _Processed
    idempotency: _Idempotency

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._work: _Tables | None = None

    def __enter__(self) -> Self:
        self._storage._lock.acquire()
        self._work = work = self._storage._tables.copy()
        self.users = _Users(work)
        self.tickets = _Tickets(work)
        self.orders = _Orders(work)
        self.payments = _Payments(work)
        self.revoked_tokens = _Revoked(work)
        self.outbox = _Outbox(work)
        self.processed = _Processed(work)
        self.idempotency = _Idempotency(work)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._work = None
        self._storage._lock.release()

    def commit(self) -> None:
        """Publish this unit's tables as the storage's; the unit keeps working on a fresh copy."""
        if self._work is None:
            raise RuntimeError("commit() outside the unit of work's with-block")
        self._storage._tables = self._work
        self._rebind(self._work.copy())

    def rollback(self) -> None:
        """Discard this unit's changes."""
        if self._work is not None:
            self._rebind(self._storage._tables.copy())

    def _rebind(self, work: _Tables) -> None:
        self._work = work
        for repo in (
            self.users,
            self.tickets,
            self.orders,
            self.payments,
            self.revoked_tokens,
            self.outbox,
            self.processed,
            self.idempotency,
        ):
            repo._tables = work


class MemoryQueries:
    """The read side over the memory tables."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    def _ticket_view(self, tables: _Tables, ticket: Ticket, now: datetime) -> TicketView:
        units = count_units(ticket.capacity, (o for o in tables.orders.values() if o.ticket_id == ticket.id), now)
        return TicketView.of(ticket, units)

    def _order_view(self, tables: _Tables, order: Order) -> OrderView:
        return OrderView.of(order, tables.tickets[order.ticket_id])

    def _tickets_page(
        self, now: datetime, limit: int, cursor: str | None, *, owner_id: str | None, only_available: bool
    ) -> Page[TicketView]:
        after = Cursor.decode(cursor) if cursor else None
        with self._storage._lock:
            tables = self._storage._tables
            tickets = sorted(tables.tickets.values(), key=lambda x: (x.created_at, x.id))
            views: list[TicketView] = []
            for ticket in tickets:
                if after is not None and (ticket.created_at, ticket.id) <= (after.created_at, after.id):
                    continue
                if owner_id is not None and ticket.owner_id != owner_id:
                    continue
                view = self._ticket_view(tables, ticket, now)
                if only_available and view.available <= 0:
                    continue
                views.append(view)
                if len(views) > limit:
                    break
        return _page(views, limit)

    def available_tickets(self, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """Tickets with at least one free unit, oldest first."""
        return self._tickets_page(now, limit, cursor, owner_id=None, only_available=True)

    def tickets_owned_by(self, owner_id: str, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """A seller's tickets whatever their state, oldest first."""
        return self._tickets_page(now, limit, cursor, owner_id=owner_id, only_available=False)

    def ticket(self, ticket_id: str, now: datetime) -> TicketView | None:
        """One ticket."""
        with self._storage._lock:
            tables = self._storage._tables
            ticket = tables.tickets.get(ticket_id)
            return None if ticket is None else self._ticket_view(tables, ticket, now)

    def orders_for_user(self, user_id: str, limit: int, cursor: str | None = None) -> Page[OrderView]:
        """A buyer's orders, oldest first."""
        after = Cursor.decode(cursor) if cursor else None
        with self._storage._lock:
            tables = self._storage._tables
            orders = sorted(
                (o for o in tables.orders.values() if o.buyer_id == user_id), key=lambda o: (o.created_at, o.id)
            )
            if after is not None:
                orders = [o for o in orders if (o.created_at, o.id) > (after.created_at, after.id)]
            views = [self._order_view(tables, o) for o in orders[: limit + 1]]
        return _page(views, limit)

    def order(self, order_id: str) -> OrderView | None:
        """One order with its ticket summary."""
        with self._storage._lock:
            tables = self._storage._tables
            order = tables.orders.get(order_id)
            return None if order is None else self._order_view(tables, order)

    def user(self, user_id: str) -> UserView | None:
        """One user."""
        with self._storage._lock:
            user = self._storage._tables.users.get(user_id)
        return None if user is None else UserView(user.id, user.email, user.created_at, user.is_banned)


_V = TypeVar("_V", TicketView, OrderView)


def _page(views: list[_V], limit: int) -> Page[_V]:
    if len(views) > limit:
        last = views[limit - 1]
        return Page(tuple(views[:limit]), Cursor(last.created_at, last.id).encode())
    return Page(tuple(views))


class MemoryStorage:
    """Storage in this process's memory; see the module docstring for its guarantees."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tables = _Tables()
        self._queries = MemoryQueries(self)

    def unit_of_work(self) -> MemoryUnitOfWork:
        """Return a new unit of work."""
        return MemoryUnitOfWork(self)

    @property
    def queries(self) -> MemoryQueries:
        """The read side."""
        return self._queries

    def close(self) -> None:
        """Nothing to release."""


def make_memory_storage(settings: HiveSettings, options: Mapping[str, Any]) -> MemoryStorage:
    """Build an empty in-memory storage (one process; data dies with it)."""
    return MemoryStorage()


@hookimpl
def eventhive_register_storage(register: RegisterStorage) -> None:
    """Register ``memory``."""
    register("memory", make_memory_storage)
