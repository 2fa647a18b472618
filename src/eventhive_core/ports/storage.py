"""Storage ports: repositories, the unit of work, outbox, processed ids, idempotency, read queries.

A storage plugin's factory returns a :class:`Storage`. Every method that changes state runs
inside a :class:`UnitOfWork` (one transaction); nothing is visible to others before
``commit()`` and everything is discarded without it. The contract suite in
``eventhive_core.testing.contract_suites`` pins down the behaviour each storage must show.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from eventhive_core.domain.order import Order
from eventhive_core.domain.payment import Payment
from eventhive_core.domain.read_models import OrderView, Page, TicketView, UserView
from eventhive_core.domain.reservation import Units
from eventhive_core.domain.ticket import Ticket
from eventhive_core.domain.user import User
from eventhive_core.ports.messages import Message, OutboxBacklog, OutboxRecord


class UserRepository(Protocol):
    """Users."""

    def add(self, user: User) -> None:
        """Insert a new user. Raises EmailInUse when the (normalised) email is taken."""
        ...

    def get(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        ...

    def get_by_email(self, email: str) -> User | None:
        """Return the user with this normalised email, or None."""
        ...

    def save(self, user: User) -> None:
        """Store changes to an existing user (ban)."""
        ...


class TicketRepository(Protocol):
    """Tickets and their units."""

    def add(self, ticket: Ticket) -> None:
        """Insert a new ticket with no unit taken."""
        ...

    def get(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id, or None."""
        ...

    def save(self, before: Ticket, after: Ticket, *, over_commit: bool = False) -> None:
        """Store ``after`` if the stored ticket is still at ``before.version``; else raise ConcurrencyConflict.

        Without ``over_commit``, a capacity below the units already taken may raise
        ConcurrencyConflict (the service layer checks it first). With it (a replica applying
        its source's edit), such a capacity is stored: the orders keep their units and
        ``reserve`` refuses new ones until the units fit under it again.
        """
        ...

    def units(self, ticket_id: str, now: datetime) -> Units:
        """Return the ticket's capacity, units held by live orders and units sold, as of ``now``."""
        ...

    def reserve(self, ticket_id: str, quantity: int, now: datetime, *, over_commit: bool = False) -> bool:
        """Take ``quantity`` units atomically if the reservation rule allows it at ``now``.

        Returns False, taking nothing, when they do not fit. A storage that keeps counters may
        return False while due (expired) holds still count; the caller then expires those and
        tries once more. Must be safe against every concurrent caller, in every process.

        With ``over_commit`` (a replica recording an order its source already placed), the
        units are taken even where they do not fit, as ``save`` with ``over_commit`` keeps them;
        False then means only that there is no such ticket.
        """
        ...


class OrderRepository(Protocol):
    """Orders."""

    def add(self, order: Order) -> None:
        """Insert a new order (its units were taken by ``TicketRepository.reserve``).

        At most one order per buyer carries a given ``idempotency_key``, whatever runs at the
        same time: a second one raises ConcurrencyConflict (at the latest from ``commit()``),
        and the unit is retried whole, which then finds the first with ``by_idempotency_key``.
        """
        ...

    def get(self, order_id: str) -> Order | None:
        """Return the order with this id, or None."""
        ...

    def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        """Return the buyer's order placed with this Idempotency-Key, or None."""
        ...

    def save(self, before: Order, after: Order) -> None:
        """Move an order from ``before`` to ``after`` as one guarded write.

        The write happens only if the stored order still has ``before.status`` and
        ``before.version``; otherwise ConcurrencyConflict is raised and nothing changes. A
        storage keeping unit counters moves them here, so a duplicate never moves them twice.
        """
        ...

    def due(self, now: datetime, limit: int, ticket_id: str | None = None) -> list[Order]:
        """Return up to ``limit`` orders still holding on paper whose hold ran out by ``now``."""
        ...

    def expire_due(self, now: datetime, limit: int) -> list[Order]:
        """Cancel as expired up to ``limit`` holding orders whose hold ran out by ``now``; return them.

        One set-based change in the caller's unit of work: each order goes to cancelled with
        reason expired and its version bumped, and its ticket's counters move once, as
        ``save`` would move them. An order another unit is changing or has changed is left
        to that unit, never cancelled twice. The orders are returned as they are after the change.
        """
        ...


class PaymentRepository(Protocol):
    """Payments."""

    def add(self, payment: Payment) -> None:
        """Insert a new payment. At most one succeeded payment per order may exist."""
        ...

    def get(self, payment_id: str) -> Payment | None:
        """Return the payment with this id, or None."""
        ...

    def for_order(self, order_id: str) -> list[Payment]:
        """Return the order's payments, oldest first."""
        ...

    def by_provider_ref(self, provider: str, provider_ref: str) -> Payment | None:
        """Return the payment ``provider`` knows as ``provider_ref`` (what its webhooks name), or None."""
        ...

    def save(self, before: Payment, after: Payment) -> None:
        """Store ``after`` if the stored payment is still at ``before.version``; else raise ConcurrencyConflict.

        Also raises ConcurrencyConflict when ``after`` succeeded and another payment of the
        order already has: at most one payment per order ever succeeds.
        """
        ...


class RevokedTokens(Protocol):
    """Token ids revoked by signing out, kept until the token would have expired."""

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Refuse the token with this id from now on (idempotent)."""
        ...

    def is_revoked(self, jti: str) -> bool:
        """Tell whether the token with this id was revoked."""
        ...


@dataclass(frozen=True)
class TokenStanding:
    """What storage knows of a token at authentication: its user, and whether it was revoked.

    Attributes:
        user: The user the token names, or None when this storage keeps no such user.
        revoked: Whether the token's id was revoked by signing out.
    """

    user: User | None
    revoked: bool


@runtime_checkable
class TokenStandings(Protocol):
    """An optional capability of a Storage: a token's standing in one read.

    Every authenticated request asks storage whether its token was revoked and whether its user
    exists and is not banned. A storage offering ``token_standing`` answers both at once, outside
    any unit of work (one round trip on PostgreSQL); without it, authentication opens a unit of
    work and asks ``revoked_tokens`` and ``users`` in turn. Same answers either way.
    """

    def token_standing(self, jti: str, user_id: str) -> TokenStanding:
        """Return whether the token ``jti`` was revoked, and the user ``user_id`` (None if not stored).

        Raises:
            TransientStorageError: The storage cannot answer right now.
        """
        ...


class Outbox(Protocol):
    """Integration events written with the change that produced them, published by the relay."""

    def add(self, message: Message, occurred_at: datetime) -> None:
        """Store an event in this unit of work's transaction."""
        ...

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxRecord]:
        """Claim up to ``limit`` oldest unsent, unclaimed (or lease-expired), not-dead rows until ``lease_until``.

        Safe with several relays at once: a row is claimed by one of them at a time.
        """
        ...

    def mark_sent(self, message_ids: Collection[str], now: datetime) -> None:
        """Record that these events were published (the relay marks a whole batch in one call)."""
        ...

    def mark_failed(self, message_id: str, error: str, retry_at: datetime, max_attempts: int) -> None:
        """Record a failed publish; retry at ``retry_at``, or mark dead once ``max_attempts`` is reached."""
        ...

    def dead(self, limit: int) -> list[OutboxRecord]:
        """Return rows that gave up after too many attempts."""
        ...

    def pending(self) -> int:
        """Return how many rows are not yet sent (dead ones excluded)."""
        ...

    def backlog(self) -> OutboxBacklog:
        """Return how many rows are not yet sent (dead ones excluded) and when the oldest occurred.

        Read at every metrics scrape, so one cheap query. Optional for a storage plugin: without
        it the metrics report ``pending()`` and no oldest age.
        """
        ...


class ProcessedMessages(Protocol):
    """Which subscriber handled which event, so a redelivered event changes nothing."""

    def add(self, subscriber: str, message_id: str, now: datetime) -> bool:
        """Record the pair; return False (and record nothing) when it was already there."""
        ...


@runtime_checkable
class BatchProcessedMessages(Protocol):
    """An optional capability of ``UnitOfWork.processed``: record a batch of events in one statement.

    The in-process bus hands a subscriber the events of one outbox batch together; where the
    storage offers ``add_many``, their ids are recorded in one statement and the reactions run in
    one unit of work, instead of one unit (and one commit) per event. Without it each event is
    delivered on its own, with the same outcome.
    """

    def add_many(self, subscriber: str, message_ids: Sequence[str], now: datetime) -> set[str]:
        """Record each pair not recorded yet; return the ids recorded now (the others were already there).

        An id given twice is recorded, and returned, once.
        """
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A stored response for an Idempotency-Key.

    Attributes:
        fingerprint: Hash of the request it answered.
        status_code: The stored status, or None while the first request still runs.
        body: The stored response body (JSON text), or None while running.
        expires_at: When the key may be reused.
    """

    fingerprint: str
    status_code: int | None
    body: str | None
    expires_at: datetime


class IdempotencyStore(Protocol):
    """Responses of requests sent with an Idempotency-Key, per caller."""

    def begin(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        """Start a keyed request: None when this caller may run it, else the existing live record."""
        ...

    def finish(self, scope: str, key: str, status_code: int, body: str) -> None:
        """Store the response of a keyed request."""
        ...

    def abandon(self, scope: str, key: str) -> None:
        """Forget a keyed request whose response must not be replayed (an error worth retrying)."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository; use as a context manager, call ``commit()``."""

    # Read-only members, so an implementation may expose its own concrete repository types.
    @property
    def users(self) -> UserRepository:
        """Users."""
        ...

    @property
    def tickets(self) -> TicketRepository:
        """Tickets and their units."""
        ...

    @property
    def orders(self) -> OrderRepository:
        """Orders."""
        ...

    @property
    def payments(self) -> PaymentRepository:
        """Payments."""
        ...

    @property
    def revoked_tokens(self) -> RevokedTokens:
        """Revoked token ids."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox of this transaction."""
        ...

    @property
    def processed(self) -> ProcessedMessages:
        """Processed-message ids."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency keys."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit visible at once."""
        ...

    def rollback(self) -> None:
        """Discard every change of this unit."""
        ...


class ReadQueries(Protocol):
    """The read side: views for listings and pages."""

    def available_tickets(self, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """Tickets with at least one free unit, oldest first, keyset-paginated."""
        ...

    def tickets_owned_by(self, owner_id: str, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """A seller's tickets whatever their state, oldest first."""
        ...

    def ticket(self, ticket_id: str, now: datetime) -> TicketView | None:
        """One ticket, sold out or not."""
        ...

    def orders_for_user(self, user_id: str, limit: int, cursor: str | None = None) -> Page[OrderView]:
        """A buyer's orders in any status, oldest first."""
        ...

    def order(self, order_id: str) -> OrderView | None:
        """One order with its ticket summary."""
        ...

    def user(self, user_id: str) -> UserView | None:
        """One user."""
        ...


class Storage(Protocol):
    """What a storage plugin's factory returns."""

    def unit_of_work(self) -> UnitOfWork:
        """Return a new, not yet entered, unit of work."""
        ...

    @property
    def queries(self) -> ReadQueries:
        """The read side."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


__all__ = [
    "BatchProcessedMessages",
    "IdempotencyRecord",
    "IdempotencyStore",
    "OrderRepository",
    "Outbox",
    "PaymentRepository",
    "ProcessedMessages",
    "ReadQueries",
    "RevokedTokens",
    "Storage",
    "TicketRepository",
    "TokenStanding",
    "TokenStandings",
    "UnitOfWork",
    "UserRepository",
    "claim_role",
]


def claim_role(storage: Storage, role: str | None, now: datetime) -> None:
    """Mark ``storage`` as the ``role`` service's, or check that it is, where the storage keeps such a mark.

    A storage with a ``claim_role(role, now)`` method (the SQL storage) is asked; others keep
    nothing across processes, so every process has its own and there is nothing to check.

    Raises:
        RoleMismatch: The storage belongs to another service of a split (to any, when ``role`` is
            None: the whole platform).
    """
    claim = getattr(storage, "claim_role", None)
    if claim is not None:
        claim(role, now)
