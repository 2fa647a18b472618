"""Repositories over one connection and transaction: conditional UPDATEs, version guards, no ORM.

The reservation rule lives in the database (docs/storage/sqlalchemy.md, "Stripes"): a ticket's
capacity is split into stripes, each with its own counters under a CHECK constraint; ``reserve``
is a single conditional UPDATE of one stripe with room, picked from a random start, and every
order transition is a guarded UPDATE that moves its stripe's
counters in the same transaction only when it hit a row. Buyers of one ticket so lock different
rows and commit in parallel. When no single stripe has room, the reservation locks every stripe of
the ticket (in stripe order) and moves free capacity between them: at the margin the ticket's
whole capacity is used, and the shares always add up to it. On SQLite a write unit holds the
database's write lock, and tickets have one stripe.

Lock order, which keeps every path free of deadlocks: a ticket's stripes before its orders, stripes
in ascending order, and a ticket's row (edits) after its stripes.

The repositories do not ask which database they run on: the session they are given takes the
portable path or the PostgreSQL fast path (``pg_fast_path.py``), chosen once per storage. Row
locks (``FOR UPDATE``, ``SKIP LOCKED``) are written for PostgreSQL and left out by SQLAlchemy on
SQLite, whose write unit already holds the only write lock.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from eventhive_core.adapters.sqlalchemy.session import SqlSession, insert_ignoring_conflicts
from eventhive_core.adapters.sqlalchemy.tables import (
    HOLDING,
    orders,
    payments,
    revoked_tokens,
    ticket_stripes,
    tickets,
    users,
)
from eventhive_core.domain.errors import ConcurrencyConflict, EmailInUse, NotFound
from eventhive_core.domain.ids import OrderId, PaymentId, TicketId, UserId
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.domain.reservation import Units
from eventhive_core.domain.ticket import Ticket
from eventhive_core.domain.user import User, normalize_email


def user_from_row(row: Any) -> User:
    """Build a User from a row of ``users`` (any row giving its columns as attributes)."""
    return User(
        id=UserId(row.id),
        email=row.email,
        password_hash=row.password_hash,
        created_at=row.created_at,
        banned_at=row.banned_at,
    )


def ticket_from_row(row: Any) -> Ticket:
    """Build a Ticket from a row of ``tickets`` (any row giving its columns as attributes)."""
    return Ticket(
        id=TicketId(row.id),
        title=row.title,
        price=Money(int(row.price_minor), row.currency),
        owner_id=UserId(row.owner_id),
        created_at=row.created_at,
        capacity=row.capacity,
        version=row.version,
    )


def order_from_row(row: Any) -> Order:
    """Build an Order from a row of ``orders`` (any row giving its columns as attributes)."""
    return Order(
        id=OrderId(row.id),
        ticket_id=TicketId(row.ticket_id),
        buyer_id=UserId(row.buyer_id),
        status=OrderStatus(row.status),
        expires_at=row.expires_at,
        created_at=row.created_at,
        amount=Money(int(row.amount_minor), row.currency),
        quantity=row.quantity,
        version=row.version,
        cancel_reason=CancelReason(row.cancel_reason) if row.cancel_reason else None,
        idempotency_key=row.idempotency_key,
    )


def _payment(row: sa.Row[Any]) -> Payment:
    return Payment(
        id=PaymentId(row.id),
        order_id=OrderId(row.order_id),
        provider=row.provider,
        amount=Money(int(row.amount_minor), row.currency),
        status=PaymentStatus(row.status),
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        provider_ref=row.provider_ref,
        version=row.version,
        method_digest=row.method_digest,
        charging_until=row.charging_until,
    )


def live_held(ticket_id: sa.ColumnElement[str], now: datetime) -> sa.ScalarSelect[int]:
    """Units of a ticket held by live orders at ``now``: a correlated, index-backed subquery."""
    return (
        sa.select(sa.func.coalesce(sa.func.sum(orders.c.quantity), 0))
        .where(orders.c.ticket_id == ticket_id, orders.c.status.in_(HOLDING), orders.c.expires_at > now)
        .scalar_subquery()
    )


# Hot statements, built once: constructing a statement costs more than running a cached one,
# and the fast path compiles each of these once (see SqlSession.first and rowcount).
_TICKET_BY_ID = sa.select(tickets).where(tickets.c.id == sa.bindparam("id"))
_USER_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("id"))
_QUANTITY = sa.bindparam("quantity", type_=sa.Integer)
_STRIPE = ticket_stripes.c
_OF_TICKET = _STRIPE.ticket_id == sa.bindparam("ticket")
_HAS_ROOM = _STRIPE.held + _STRIPE.sold + _QUANTITY <= _STRIPE.capacity


#: A stripe that may take units: room, and not frozen. An over-committed replica's stripes are all
#: frozen (they share more than its capacity): its reservations go to the margin. A column of the
#: row the pick reads anyway, so the hot path pays nothing for it.
_OPEN = sa.and_(_HAS_ROOM, ~_STRIPE.frozen)
#: The first stripe with room in the statement's snapshot, from a random start (stripes >= start,
#: then the rest), read without a lock.
_PICK = (
    sa.select(_STRIPE.stripe)
    .where(_OF_TICKET, _OPEN)
    .order_by(_STRIPE.stripe < sa.bindparam("start", type_=sa.Integer), _STRIPE.stripe)
    .limit(sa.literal_column("1"))
)
#: Takes the units in the picked stripe. A rival holding the stripe makes it wait; READ COMMITTED
#: then re-checks the room on the committed row. Where the room is gone, PostgreSQL updates
#: nothing but keeps the row's lock, so the statement also says what it picked: nothing picked
#: means no stripe has room (and nothing was locked); picked but not taken means a rival took the
#: last units first, and the unit is retried whole, which drops that lock. A transaction holding
#: such a stray lock while it waits at the margin for every stripe in order could deadlock.
_PICKED = _PICK.cte("pick")
_TAKEN = (
    sa.update(ticket_stripes)
    .where(_OF_TICKET, _STRIPE.stripe == sa.select(_PICKED.c.stripe).scalar_subquery(), _OPEN)
    .values(held=_STRIPE.held + _QUANTITY)
    .returning(_STRIPE.stripe)
    .cte("taken")
)
#: The ticket's row comes back with it, read in the same snapshot: the order is priced from it, and
#: the unit's ``tickets.get`` serves it from memory instead of asking again (no row: no ticket).
_RESERVE_IN_A_STRIPE = sa.select(
    sa.select(_PICKED.c.stripe).scalar_subquery().label("picked"),
    sa.select(_TAKEN.c.stripe).scalar_subquery().label("taken"),
    *tickets.c,
).where(tickets.c.id == sa.bindparam("ticket"))
#: The same where the database cannot write in a CTE (SQLite): tickets there have one stripe, and
#: the database's single writer lock leaves no rival and no stray lock.
_RESERVE_IN_THE_STRIPE = (
    sa.update(ticket_stripes)
    .where(_OF_TICKET, _STRIPE.stripe == _PICK.scalar_subquery(), _OPEN)
    .values(held=_STRIPE.held + _QUANTITY)
    .returning(_STRIPE.stripe)
)
_CAPACITY = sa.select(tickets.c.capacity).where(tickets.c.id == sa.bindparam("id"))
_LOCK_STRIPES = sa.select(ticket_stripes).where(_OF_TICKET).order_by(_STRIPE.stripe).with_for_update()
#: Locks the stripe an order's units are counted in (before the order itself: see the lock order).
_LOCK_ORDER_STRIPE = (
    sa.select(_STRIPE.stripe)
    .join(orders, sa.and_(orders.c.ticket_id == _STRIPE.ticket_id, orders.c.stripe == _STRIPE.stripe))
    .where(orders.c.id == sa.bindparam("order_id"))
    .with_for_update(of=ticket_stripes)
)
_MOVE_UNITS = (
    sa.update(ticket_stripes)
    .where(_OF_TICKET, _STRIPE.stripe == sa.bindparam("in_stripe", type_=sa.SmallInteger))
    .values(
        held=_STRIPE.held + sa.bindparam("held_by", type_=sa.Integer),
        sold=_STRIPE.sold + sa.bindparam("sold_by", type_=sa.Integer),
    )
)


def stripe_sum(column: sa.Column[int], ticket_id: sa.ColumnElement[str]) -> sa.ScalarSelect[int]:
    """The sum of a stripe counter over a ticket's stripes: a correlated subquery on their primary key."""
    return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(_STRIPE.ticket_id == ticket_id).scalar_subquery()


_THREAD = threading.local()


def _contended_tickets() -> set[str]:
    """Return the tickets this thread's last reservation lost a stripe of (its unit is being retried)."""
    tickets: set[str] | None = getattr(_THREAD, "contended", None)
    if tickets is None:
        tickets = _THREAD.contended = set()
    return tickets


def _new_stripe(ticket_id: str, stripe: int, capacity: int) -> dict[str, Any]:
    """The row of a new stripe with nothing taken."""
    return {"ticket_id": ticket_id, "stripe": stripe, "capacity": capacity, "held": 0, "sold": 0, "frozen": False}


def shares(capacity: int, count: int) -> list[int]:
    """Split ``capacity`` into ``count`` shares differing by at most one, larger first.

    Examples:
        >>> shares(10, 4), shares(0, 1), shares(3, 3)
        ([3, 3, 2, 2], [0], [1, 1, 1])
    """
    base, extra = divmod(capacity, count)
    return [base + (1 if n < extra else 0) for n in range(count)]


#: The predicate of the partial unique index ``uq_orders_buyer_idempotency_key``.
_KEYED = orders.c.idempotency_key.is_not(None)
_ORDER_BY_KEY = sa.select(orders).where(
    orders.c.buyer_id == sa.bindparam("buyer_id"), orders.c.idempotency_key == sa.bindparam("key"), _KEYED
)


class SqlUserRepository:
    """Users; the email is stored lower-cased under a unique constraint."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, user: User) -> None:
        """Insert a new user. Raises EmailInUse when the (normalised) email is taken."""
        values = {
            "id": user.id,
            "email": normalize_email(user.email),
            "password_hash": user.password_hash,
            "created_at": user.created_at,
            "banned_at": user.banned_at,
        }
        if not insert_ignoring_conflicts(self._session, users, values, "email"):
            raise EmailInUse()

    def get(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""
        row = self._session.first(_USER_BY_ID, {"id": user_id})
        return user_from_row(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        """Return the user with this normalised email, or None."""
        row = self._session.execute(sa.select(users).where(users.c.email == normalize_email(email))).first()
        return user_from_row(row) if row else None

    def save(self, user: User) -> None:
        """Store changes to an existing user (ban)."""
        result = self._session.execute(
            sa.update(users)
            .where(users.c.id == user.id)
            .values(email=normalize_email(user.email), password_hash=user.password_hash, banned_at=user.banned_at)
        )
        if result.rowcount == 0:
            raise NotFound()


class SqlTicketRepository:
    """Tickets and the unit counters of their stripes."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, ticket: Ticket) -> None:
        """Insert a new ticket with no unit taken, its capacity split into stripes."""
        self._session.tickets_read.pop(ticket.id, None)
        self._session.execute(
            sa.insert(tickets).values(
                id=ticket.id,
                title=ticket.title,
                price_minor=ticket.price.minor,
                currency=ticket.price.currency,
                owner_id=ticket.owner_id,
                capacity=ticket.capacity,
                version=ticket.version,
                created_at=ticket.created_at,
            )
        )
        count = max(1, min(self._session.stripes, ticket.capacity))
        for stripe, share in enumerate(shares(ticket.capacity, count)):
            self._session.insert(ticket_stripes, _new_stripe(ticket.id, stripe, share))

    def get(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id, or None.

        A ticket read once is served from the unit's memory until this unit saves it: units
        change only counters, which a Ticket does not carry, and a second read inside a
        reservation would otherwise cost a round trip while a stripe is locked.

        A ticket this unit's reservation found missing stays missing for the unit, even if it
        was committed since (read committed would show it): a replica applying the ticket's
        ``ticket:created`` while an order for it is placed must not make that order read as
        sold out, with every unit free. The order is "not found", and the buyer's next try sees it.
        """
        cache = self._session.tickets_read
        if ticket_id in cache:
            cached: Ticket | None = cache[ticket_id]
            return cached
        ticket = self._load(ticket_id)
        if ticket is not None:
            cache[ticket_id] = ticket
        return ticket

    def _load(self, ticket_id: str) -> Ticket | None:
        row = self._session.first(_TICKET_BY_ID, {"id": ticket_id})
        return ticket_from_row(row) if row else None

    def save(self, before: Ticket, after: Ticket, *, over_commit: bool = False) -> None:
        """Store ``after`` if the stored ticket is still at ``before.version``; else raise ConcurrencyConflict.

        A new capacity must still cover the units taken (a concurrent reservation that makes it
        too small turns into a conflict here rather than a CHECK violation); it is shared out
        again over the ticket's stripes, each keeping at least what it holds and sold. With
        ``over_commit`` (a replica applying its source's edit), a capacity below the units taken
        is stored all the same: the stripes keep sharing what is taken, frozen, and reservations
        are refused until the units fit again (see ``_reserve_at_the_margin``).
        """
        self._session.tickets_read.pop(before.id, None)
        if after.capacity != before.capacity:
            self._share_out(before.id, after.capacity, over_commit=over_commit)
        result = self._session.execute(
            sa.update(tickets)
            .where(tickets.c.id == before.id, tickets.c.version == before.version)
            .values(
                title=after.title,
                price_minor=after.price.minor,
                currency=after.price.currency,
                capacity=after.capacity,
                version=after.version,
            )
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict()

    def _share_out(self, ticket_id: str, capacity: int, *, over_commit: bool = False) -> None:
        """Share ``capacity`` out over the ticket's stripes (frozen, each full, if it is below the units taken)."""
        rows = self._session.execute(_LOCK_STRIPES, {"ticket": ticket_id}).all()
        taken = [row.held + row.sold for row in rows]
        if sum(taken) > capacity:
            if not over_commit:
                raise ConcurrencyConflict()
            # Every stripe keeps exactly what it holds and sold, and takes nothing more.
            self._write_stripes(ticket_id, {row.stripe: taken[n] for n, row in enumerate(rows)}, frozen=True)
            return
        # As many stripes as a new ticket of this capacity would get, never fewer than it has.
        count = max(len(rows), min(self._session.stripes, capacity), 1)
        taken += [0] * (count - len(taken))
        capacities = [used + share for used, share in zip(taken, shares(capacity - sum(taken), count), strict=True)]
        if any(row.frozen for row in rows):
            self._write_stripes(ticket_id, {row.stripe: capacities[row.stripe] for row in rows}, frozen=False)
        else:
            changed = {row.stripe: capacities[row.stripe] for row in rows if capacities[row.stripe] != row.capacity}
            self._write_stripes(ticket_id, changed)
        for stripe in range(len(rows), count):
            self._session.insert(ticket_stripes, _new_stripe(ticket_id, stripe, capacities[stripe]))

    def units(self, ticket_id: str, now: datetime) -> Units:
        """Return the ticket's capacity, units held by live orders and units sold, as of ``now``.

        Raises:
            NotFound: No ticket has this id.
        """
        row = self._session.execute(
            sa.select(
                tickets.c.capacity,
                stripe_sum(_STRIPE.sold, tickets.c.id).label("sold"),
                live_held(tickets.c.id, now).label("held"),
            ).where(tickets.c.id == ticket_id)
        ).first()
        if row is None:
            raise NotFound()
        return Units(capacity=row.capacity, held=int(row.held), sold=int(row.sold))

    def reserve(self, ticket_id: str, quantity: int, now: datetime, *, over_commit: bool = False) -> bool:
        """Take ``quantity`` units atomically if they fit under the ticket's capacity.

        One conditional UPDATE of one stripe with room, picked from a random start; when no
        single stripe has room, every stripe is locked and free capacity is moved into one (see
        the module's docstring). There is no read-then-write window for a rival to slip into.
        The counters still include holds that ran out but were not yet expired, so False may
        mean "expire the due holds and try once more" (the service layer does). The stripe is
        kept for the order added next, and the ticket as read by the reservation is what
        ``get`` returns for the rest of the unit.

        With ``over_commit`` (a replica recording units its source already took), the units are
        taken even where they do not fit: the ticket is then over-committed (see ``save``).

        Raises:
            ConcurrencyConflict: A rival took the last units of the stripe picked; the unit of
                work is retried whole (see ``_RESERVE_IN_A_STRIPE``).
        """
        if quantity < 1:
            return False
        params = {"ticket": ticket_id, "quantity": quantity, "start": secrets.randbelow(self._session.stripes)}
        contended = _contended_tickets()
        if ticket_id in contended:
            # This thread's last try lost a stripe to a rival: a rush on few units. The retry goes
            # to the margin straight away, which locks every stripe in order and cannot lose
            # again; picking once more could lose again, and again, until the retries run out.
            contended.discard(ticket_id)
            stripe = self._reserve_at_the_margin(ticket_id, quantity, over_commit=over_commit)
            if stripe is None:
                return False
        elif self._session.writes_in_cte:
            row = self._session.first(_RESERVE_IN_A_STRIPE, params)
            if row is None:
                self._session.tickets_read[ticket_id] = None  # no such ticket, for the rest of this unit
                return False
            self._session.tickets_read[ticket_id] = ticket_from_row(row)
            if row.picked is not None and row.taken is None:
                contended.add(ticket_id)
                raise ConcurrencyConflict()
            stripe = row.taken
        else:
            row = self._session.first(_RESERVE_IN_THE_STRIPE, params)
            stripe = None if row is None else row.stripe
        if stripe is None:
            stripe = self._reserve_at_the_margin(ticket_id, quantity, over_commit=over_commit)
            if stripe is None:
                return False
        self._session.reserved.setdefault(ticket_id, []).append(stripe)
        return True

    def _reserve_at_the_margin(self, ticket_id: str, quantity: int, *, over_commit: bool = False) -> int | None:
        rows = self._session.execute(_LOCK_STRIPES, {"ticket": ticket_id}).all()
        if not rows:
            # Every ticket has a stripe: no such ticket, for the rest of this unit (see ``get``).
            self._session.tickets_read[ticket_id] = None
            return None
        original = {row.stripe: row.capacity for row in rows}
        taken = {row.stripe: row.held + row.sold for row in rows}
        if any(row.frozen for row in rows):
            # Over-committed: judged against the ticket's capacity, not the shares. With the
            # stripes locked no edit is under way, so the capacity read now is the committed one.
            capacity = self._session.first(_CAPACITY, {"id": ticket_id}).capacity  # type: ignore[union-attr]
            if sum(taken.values()) + quantity > capacity:
                return self._over_commit(ticket_id, quantity, taken) if over_commit else None
            # The units fit again: share the capacity out as usual and take the fast path from now on.
            fair = shares(capacity - sum(taken.values()), len(rows))
            original = {stripe: taken[stripe] + fair[n] for n, stripe in enumerate(sorted(taken))}
            self._write_stripes(ticket_id, original, frozen=False)
        free = {stripe: original[stripe] - taken[stripe] for stripe in original}
        if sum(free.values()) < quantity:
            return self._over_commit(ticket_id, quantity, taken) if over_commit else None
        target: int = max(free, key=lambda stripe: (free[stripe], -stripe))
        capacities = dict(original)
        missing = quantity - free[target]
        for stripe in sorted(free):
            if missing <= 0:
                break
            if stripe == target or free[stripe] <= 0:
                continue
            moved = min(free[stripe], missing)
            capacities[stripe] -= moved
            capacities[target] += moved
            missing -= moved
        changed = {stripe: cap for stripe, cap in capacities.items() if cap != original[stripe]}
        self._write_stripes(ticket_id, changed, held_in=target, quantity=quantity)
        return target

    def _over_commit(self, ticket_id: str, quantity: int, taken: dict[int, int]) -> int:
        """Take units that do not fit (a replica's record of its source's order), freezing every stripe."""
        first = min(taken)
        capacities = {stripe: taken[stripe] + (quantity if stripe == first else 0) for stripe in taken}
        self._write_stripes(ticket_id, capacities, held_in=first, quantity=quantity, frozen=True)
        return first

    def _write_stripes(
        self,
        ticket_id: str,
        capacities: dict[int, int],
        *,
        held_in: int | None = None,
        quantity: int = 0,
        frozen: bool | None = None,
    ) -> None:
        # One UPDATE for the stripes whose share changes, and the one taking ``quantity`` held;
        # ``frozen`` (when given) is written to every stripe in ``capacities``.
        touched = sorted({*capacities, *([] if held_in is None else [held_in])})
        if not touched:
            return
        values: dict[str, Any] = {}
        if capacities:
            changes = ((_STRIPE.stripe == stripe, share) for stripe, share in capacities.items())
            values["capacity"] = sa.case(*changes, else_=_STRIPE.capacity)
        if held_in is not None:
            values["held"] = sa.case((_STRIPE.stripe == held_in, _STRIPE.held + quantity), else_=_STRIPE.held)
        if frozen is not None:
            values["frozen"] = frozen
        self._session.execute(
            sa.update(ticket_stripes)
            .where(_STRIPE.ticket_id == ticket_id, _STRIPE.stripe.in_(touched))
            .values(**values)
        )


def _counter_moves(before: OrderStatus | None, after: OrderStatus) -> tuple[int, int]:
    """Return the signs of the (held, sold) moves for an order going from ``before`` to ``after``.

    ``before`` None is a new order whose units ``reserve`` already counted as held.
    """
    if before is OrderStatus.COMPLETE and after is OrderStatus.CANCELLED:
        return 0, -1  # a refunded order gives its sold units back
    holding_before = before is None or before.value in HOLDING
    if not holding_before or after.value in HOLDING:
        return 0, 0
    if after is OrderStatus.COMPLETE:
        return -1, 1
    return -1, 0


class SqlOrderRepository:
    """Orders; transitions are guarded writes that move the ticket's counters exactly once."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, order: Order) -> None:
        """Insert a new order (its units were taken by ``TicketRepository.reserve``).

        An order born final (a late payment accepted as a replacement order) moves its
        reserved units from held to sold, or releases them if born cancelled.

        Raises:
            ConcurrencyConflict: The buyer already has an order with this ``idempotency_key``.
                On the fast path the insert rides along with the commit (see ``SqlSession.insert_new``),
                so ``commit()`` raises it, translated from the unique index's violation.
        """
        stripe = self._reserved_stripe(order.ticket_id)
        values = {
            "id": order.id,
            "ticket_id": order.ticket_id,
            "buyer_id": order.buyer_id,
            "status": order.status.value,
            "quantity": order.quantity,
            "amount_minor": order.amount.minor,
            "currency": order.amount.currency,
            "expires_at": order.expires_at,
            "created_at": order.created_at,
            "version": order.version,
            "cancel_reason": order.cancel_reason.value if order.cancel_reason else None,
            "idempotency_key": order.idempotency_key,
            "stripe": stripe,
        }
        if order.idempotency_key is None:
            self._session.insert(orders, values)
        elif not self._session.insert_new(orders, values, "buyer_id", "idempotency_key", where=_KEYED):
            raise ConcurrencyConflict()
        self._move_units(order, stripe, *_counter_moves(None, order.status))

    def _reserved_stripe(self, ticket_id: str) -> int:
        taken = self._session.reserved.get(ticket_id)
        if not taken:
            raise RuntimeError("An order's units must be reserved first, in the same unit (uow.tickets.reserve)")
        return taken.pop(0)

    def get(self, order_id: str) -> Order | None:
        """Return the order with this id, or None."""
        row = self._session.execute(sa.select(orders).where(orders.c.id == order_id)).first()
        return order_from_row(row) if row else None

    def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        """Return the buyer's order placed with this Idempotency-Key, or None."""
        row = self._session.execute(_ORDER_BY_KEY, {"buyer_id": buyer_id, "key": key}).first()
        return order_from_row(row) if row else None

    def save(self, before: Order, after: Order) -> None:
        """Move an order from ``before`` to ``after`` as one guarded write, counters included.

        Raises:
            ConcurrencyConflict: The stored order is no longer at ``before``'s status and version.
        """
        held, sold = _counter_moves(before.status, after.status)
        stripe = None
        if held or sold:
            # The order's stripe is locked before the order row (see the lock order), so a cancel
            # racing an in-line reclaim or a sweep of the same orders cannot deadlock.
            row = self._session.first(_LOCK_ORDER_STRIPE, {"order_id": before.id})
            if row is None:
                raise ConcurrencyConflict()
            stripe = row.stripe
        result = self._session.execute(
            sa.update(orders)
            .where(orders.c.id == before.id, orders.c.status == before.status.value, orders.c.version == before.version)
            .values(
                status=after.status.value,
                version=after.version,
                expires_at=after.expires_at,
                cancel_reason=after.cancel_reason.value if after.cancel_reason else None,
            )
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict()
        if stripe is not None:
            self._move_units(after, stripe, held, sold)

    def _move_units(self, order: Order, stripe: int, held: int, sold: int) -> None:
        if held or sold:
            params = {
                "ticket": order.ticket_id,
                "in_stripe": stripe,
                "held_by": held * order.quantity,
                "sold_by": sold * order.quantity,
            }
            self._session.rowcount(_MOVE_UNITS, params)

    def due(self, now: datetime, limit: int, ticket_id: str | None = None) -> list[Order]:
        """Return up to ``limit`` orders still holding on paper whose hold ran out by ``now``.

        Oldest first; for one ticket, by stripe, then oldest first: expiring them one by one then
        locks their stripes in ascending order, as every other path does (see the lock order).
        """
        query = sa.select(orders).where(orders.c.status.in_(HOLDING), orders.c.expires_at <= now)
        if ticket_id is not None:
            query = query.where(orders.c.ticket_id == ticket_id).order_by(orders.c.stripe)
        # One global order for every caller: two reclaimers lock the same orders in the same order.
        query = query.order_by(orders.c.expires_at, orders.c.id).limit(limit)
        return [order_from_row(row) for row in self._session.execute(query)]

    def expire_due(self, now: datetime, limit: int) -> list[Order]:
        """Cancel as expired up to ``limit`` holding orders due by ``now``, set-based; return them after the change.

        Three steps whatever the batch size: find the due orders' tickets, lock those tickets'
        stripes, then one guarded UPDATE ... RETURNING cancels the due orders of those tickets,
        followed by one counter UPDATE per stripe. Stripes are locked before orders, in
        (ticket, stripe) order, as ``save`` and ``reserve`` lock them, so a sweep cannot
        deadlock with a buyer, a payer or another sweep. On PostgreSQL the orders are chosen in
        a CTE with ``FOR UPDATE SKIP LOCKED``: an order another unit is changing is left to it,
        and a concurrent sweep takes the next ones; the UPDATE repeats the status test, so no order is cancelled twice.
        On SQLite (which has no row locks) the write unit's ``BEGIN IMMEDIATE`` already serialises sweeps.
        """
        if limit < 1:
            return []
        holding_due = sa.and_(orders.c.status.in_(HOLDING), orders.c.expires_at <= now)
        first = sa.select(orders.c.ticket_id).where(holding_due).order_by(orders.c.expires_at, orders.c.id).limit(limit)
        ticket_ids = sorted({row.ticket_id for row in self._session.execute(first)})
        if not ticket_ids:
            return []
        lock = (
            sa.select(_STRIPE.ticket_id, _STRIPE.stripe)
            .where(_STRIPE.ticket_id.in_(ticket_ids))
            .order_by(_STRIPE.ticket_id, _STRIPE.stripe)
            .with_for_update()
        )
        self._session.execute(lock).all()
        candidates = (
            sa.select(orders.c.id)
            .where(holding_due, orders.c.ticket_id.in_(ticket_ids))
            .order_by(orders.c.expires_at, orders.c.id)
            .limit(limit)
        )
        # A CTE runs once; as an IN (...) subquery PostgreSQL may rescan it and claim more than ``limit``.
        chosen = candidates.with_for_update(skip_locked=True).cte("due_orders")
        statement = (
            sa.update(orders)
            .where(orders.c.id == chosen.c.id, orders.c.status.in_(HOLDING))
            .values(
                status=OrderStatus.CANCELLED.value,
                cancel_reason=CancelReason.EXPIRED.value,
                version=orders.c.version + 1,
            )
            .returning(*orders.c)
        )
        rows = sorted(self._session.execute(statement), key=lambda row: (row.expires_at, row.id))
        released: dict[tuple[str, int], int] = {}
        for row in rows:
            released[row.ticket_id, row.stripe] = released.get((row.ticket_id, row.stripe), 0) + row.quantity
        for (ticket_id, stripe), units in sorted(released.items()):
            params = {"ticket": ticket_id, "in_stripe": stripe, "held_by": -units, "sold_by": 0}
            self._session.rowcount(_MOVE_UNITS, params)
        return [order_from_row(row) for row in rows]


class SqlPaymentRepository:
    """Payments; a partial unique index allows one succeeded payment per order."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, payment: Payment) -> None:
        """Insert a new payment.

        Raises:
            ConcurrencyConflict: The order already has a succeeded payment.
        """
        values = self._values(payment)
        if payment.status is PaymentStatus.SUCCEEDED and self._has_success(payment.order_id, payment.id):
            raise ConcurrencyConflict()
        self._session.execute(sa.insert(payments).values(id=payment.id, **values))

    def get(self, payment_id: str) -> Payment | None:
        """Return the payment with this id, or None."""
        row = self._session.execute(sa.select(payments).where(payments.c.id == payment_id)).first()
        return _payment(row) if row else None

    def for_order(self, order_id: str) -> list[Payment]:
        """Return the order's payments, oldest first."""
        query = (
            sa.select(payments).where(payments.c.order_id == order_id).order_by(payments.c.created_at, payments.c.id)
        )
        return [_payment(row) for row in self._session.execute(query)]

    def by_provider_ref(self, provider: str, provider_ref: str) -> Payment | None:
        """Return the payment the provider knows as ``provider_ref``, or None."""
        query = sa.select(payments).where(payments.c.provider == provider, payments.c.provider_ref == provider_ref)
        row = self._session.execute(query.order_by(payments.c.created_at).limit(1)).first()
        return _payment(row) if row else None

    def save(self, before: Payment, after: Payment) -> None:
        """Store ``after`` if the stored payment is still at ``before.version``.

        Raises:
            ConcurrencyConflict: The payment changed since ``before`` was read, or another payment
                of the order already succeeded.
        """
        if after.status is PaymentStatus.SUCCEEDED and self._has_success(after.order_id, after.id):
            raise ConcurrencyConflict()
        result = self._session.execute(
            sa.update(payments)
            .where(payments.c.id == before.id, payments.c.version == before.version)
            .values(**self._values(after))
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict()

    def _has_success(self, order_id: str, other_than: str) -> bool:
        # A friendly check first; the partial unique index still backs it against races.
        query = sa.select(payments.c.id).where(
            payments.c.order_id == order_id,
            payments.c.status == PaymentStatus.SUCCEEDED.value,
            payments.c.id != other_than,
        )
        return self._session.execute(query.limit(1)).first() is not None

    @staticmethod
    def _values(payment: Payment) -> dict[str, object]:
        return {
            "order_id": payment.order_id,
            "provider": payment.provider,
            "provider_ref": payment.provider_ref,
            "amount_minor": payment.amount.minor,
            "currency": payment.amount.currency,
            "status": payment.status.value,
            "idempotency_key": payment.idempotency_key,
            "created_at": payment.created_at,
            "version": payment.version,
            "method_digest": payment.method_digest,
            "charging_until": payment.charging_until,
        }


class SqlRevokedTokens:
    """Revoked token ids."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Refuse the token with this id from now on (idempotent)."""
        insert_ignoring_conflicts(self._session, revoked_tokens, {"jti": jti, "expires_at": expires_at}, "jti")

    def is_revoked(self, jti: str) -> bool:
        """Tell whether the token with this id was revoked."""
        query = sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
        return self._session.execute(query).first() is not None


__all__ = [
    "SqlOrderRepository",
    "SqlPaymentRepository",
    "SqlRevokedTokens",
    "SqlTicketRepository",
    "SqlUserRepository",
    "live_held",
    "order_from_row",
    "ticket_from_row",
    "user_from_row",
]
