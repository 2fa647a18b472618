"""The message bus: commands to their handlers, events to their subscribers.

Commands run in the caller's thread, with bounded retries of lost races. A subscriber is a
:class:`~eventhive_core.ports.event_bus.Subscription` whose handler takes the envelope and an
open unit of work (:func:`on_event` builds one that takes the typed event instead);
:func:`make_delivery` turns it into the callback a bus calls, which drops duplicates by event id,
and :func:`subscribe_all` does that for every subscriber of a Hive.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TypeAlias, TypeVar, cast

from eventhive_core.contracts.envelope import Envelope
from eventhive_core.deprecation import deprecated_names
from eventhive_core.domain import commands
from eventhive_core.domain.errors import ConcurrencyConflict, NotThisService, TransientStorageError
from eventhive_core.domain.events import DomainEvent
from eventhive_core.observability import metrics
from eventhive_core.observability.request_context import request_id_bound
from eventhive_core.ports.event_bus import BatchDelivery, Delivery, EventBus, Subscription
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import BatchProcessedMessages, UnitOfWork
from eventhive_core.service_layer import orders, payment_events, payments, refunds, tickets, users
from eventhive_core.service_layer.services import Services

__all__ = [
    "COMMAND_ROLES",
    "HANDLERS",
    "MAX_ATTEMPTS",
    "NO_UNIT_OF_WORK",
    "MessageBus",
    "SubscriberDelivery",
    "SubscriberHandler",
    "counting_failures",
    "make_delivery",
    "on_event",
    "subscribe_all",
]

log = logging.getLogger(__name__)

HANDLERS: dict[type[commands.Command], Callable[[Any, Services], Any]] = {
    commands.SignUp: users.sign_up,
    commands.SignIn: users.sign_in,
    commands.SignOut: users.sign_out,
    commands.BanUser: users.ban_user,
    commands.CreateTicket: tickets.create_ticket,
    commands.UpdateTicket: tickets.update_ticket,
    commands.PlaceOrder: orders.place_order,
    commands.CancelOrder: orders.cancel_order,
    commands.ExpireOrder: orders.expire_order,
    commands.SweepExpired: orders.sweep_expired,
    commands.PayOrder: payments.pay_order,
    commands.RefundOrder: refunds.refund_order,
    commands.ReceivePaymentEvent: payment_events.receive_payment_event,
}

#: The service of a split that carries out each command (the whole platform carries out all).
COMMAND_ROLES: dict[type[commands.Command], str] = {
    commands.SignUp: "auth",
    commands.SignIn: "auth",
    commands.SignOut: "auth",
    commands.BanUser: "auth",
    commands.CreateTicket: "tickets",
    commands.UpdateTicket: "tickets",
    commands.PlaceOrder: "orders",
    commands.CancelOrder: "orders",
    commands.ExpireOrder: "orders",
    commands.SweepExpired: "orders",
    commands.RefundOrder: "orders",
    commands.PayOrder: "payments",
    commands.ReceivePaymentEvent: "payments",
}

#: Attempts of a command that keeps losing races (or meeting a busy database) before the error surfaces.
MAX_ATTEMPTS = 4


class MessageBus:
    """Runs commands in the caller's thread; retries lost races and transient storage errors with jitter."""

    def __init__(self, services: Services, after_command: Callable[[], None] | None = None) -> None:
        self._services = services
        self._after_command = after_command or (lambda: None)

    def handle(self, command: commands.Command) -> object:
        """Run the command's handler and return its result; domain errors propagate."""
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"No handler for {type(command).__name__}")
        role = self._services.settings.role
        if role is not None and COMMAND_ROLES.get(type(command), role) != role:
            # Carried out here, it would change records that are another service's (or replicas).
            raise NotThisService(type(command).__name__, role, COMMAND_ROLES[type(command)])
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result = handler(command, self._services)
            except (ConcurrencyConflict, TransientStorageError) as exc:
                # Lost a race, or the database was briefly busy: the handler runs whole again.
                if attempt == MAX_ATTEMPTS:
                    raise
                metrics.command_retried(type(command).__name__, _retry_reason(exc))
                # Jittered backoff so racing writers do not collide again in lock-step.
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - not for security
                continue
            # A command may have written outbox rows: wake the relay.
            self._after_command()
            return result
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_reason(exc: Exception) -> str:
    return "conflict" if isinstance(exc, ConcurrencyConflict) else "transient"


#: A subscriber's reaction to one event, run in its own unit of work; raise to have it delivered again.
SubscriberHandler: TypeAlias = Callable[[Envelope, UnitOfWork], None]

EventT = TypeVar("EventT", bound=DomainEvent)
DeliveryT = TypeVar("DeliveryT", bound=Delivery)


def on_event(
    name: str,
    role: str,
    event_class: type[EventT],
    react: Callable[[EventT, UnitOfWork], None],
    *,
    needs_storage: bool = True,
) -> Subscription[SubscriberHandler]:
    """Return a subscriber that hands ``react`` the typed event instead of the envelope.

    The envelope is read through its contract (older schema versions are upcast first), so the
    reaction never digs into ``envelope.data``. The event type subscribed to is the class's own.
    With ``needs_storage=False`` the reaction gets no working unit of work (see
    :attr:`~eventhive_core.ports.event_bus.Subscription.needs_storage`).

    Raises:
        TypeError: (when an event arrives) it does not turn into ``event_class``.

    Examples:
        >>> from eventhive_core.domain.events import OrderCreated
        >>> subscriber = on_event("audit.orders", "audit", OrderCreated, lambda event, uow: None)
        >>> subscriber.event_type, subscriber.role
        ('order:created', 'audit')
    """
    from eventhive_core.contracts.codec import to_domain_event

    def handler(envelope: Envelope, uow: UnitOfWork) -> None:
        event = to_domain_event(envelope)
        if not isinstance(event, event_class):
            raise TypeError(f"Subscriber {name} reacts to {event_class.__name__}, got {type(event).__name__}")
        react(event, uow)

    return Subscription(name=name, event_type=event_class.type, role=role, handler=handler, needs_storage=needs_storage)


def make_delivery(subscriber: Subscription[SubscriberHandler], services: Services) -> BatchDelivery:
    """Return the callback a bus calls for ``subscriber``: parse, drop duplicates, react, commit.

    The processed-message id is inserted in the same transaction as the reaction's own writes,
    so a redelivered event changes nothing, and a failed reaction is retried whole. While it
    runs, the envelope's request id is bound: the reaction's log lines and the events it records
    carry the id of the request that started it all. The callback also takes a batch
    (``deliver_many``): see :class:`SubscriberDelivery`.
    """
    return counting_failures(subscriber.name, SubscriberDelivery(subscriber, services))


class _NoUnitOfWork:
    """What a subscriber that needs no storage gets for a unit of work: any use of it is a bug."""

    def __repr__(self) -> str:
        return "NO_UNIT_OF_WORK"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            # Introspection (doctest, copy, inspect.unwrap) asks for dunders: answer as any object would.
            raise AttributeError(name)
        raise RuntimeError(
            f"This subscriber was declared with needs_storage=False and has no unit of work (it used {name!r})"
        )


#: Handed to reactions declared with ``needs_storage=False`` in place of a unit of work.
NO_UNIT_OF_WORK: Final[UnitOfWork] = cast(UnitOfWork, _NoUnitOfWork())


class SubscriberDelivery:
    """One subscriber's delivery callback: a message in its own unit of work, or a batch in one.

    A batch (``deliver_many``, what the in-process bus hands over from one outbox batch) records
    every id in one statement and runs every reaction in one unit of work, one commit for all,
    where the storage can record a batch (:class:`~eventhive_core.ports.storage.BatchProcessedMessages`).
    If anything in it fails, nothing of it is kept and each message is delivered again on its own,
    so one bad event fails alone and the others still go through.
    """

    def __init__(self, subscriber: Subscription[SubscriberHandler], services: Services) -> None:
        self._subscriber = subscriber
        self._services = services

    def __repr__(self) -> str:
        return f"SubscriberDelivery({self._subscriber.name!r})"

    def __call__(self, message: Message) -> None:
        """Handle one message in its own unit of work; raise to have it delivered again."""
        from eventhive_core.contracts.codec import parse_message

        envelope = parse_message(message)
        with request_id_bound(envelope.request_id):
            if not self._subscriber.needs_storage:
                self._subscriber.handler(envelope, NO_UNIT_OF_WORK)
                self._done(message, "processed")
                return
            with self._services.storage.unit_of_work() as uow:
                if not uow.processed.add(self._subscriber.name, message.id, self._services.clock.now()):
                    self._done(message, "duplicate")
                    return
                self._subscriber.handler(envelope, uow)
                uow.commit()
            self._done(message, "processed")

    def deliver_many(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Handle ``messages`` in one unit of work if possible, else one by one; return each one's failure."""
        if len(messages) > 1:
            try:
                outcomes = self._together(messages)
            except Exception as exc:
                log.debug(
                    "A batch of %d for %s failed (%s: %s); delivering each on its own",
                    len(messages),
                    self._subscriber.name,
                    type(exc).__name__,
                    exc,
                )
            else:
                if outcomes is not None:
                    for message, outcome in zip(messages, outcomes, strict=True):
                        self._done(message, outcome)
                    return [None] * len(messages)
        failures: list[Exception | None] = []
        for message in messages:
            try:
                self(message)
            except Exception as exc:
                failures.append(exc)
            else:
                failures.append(None)
        return failures

    def _together(self, messages: Sequence[Message]) -> list[str] | None:
        # Each message's outcome ("processed" or "duplicate"), or None when storage cannot batch.
        from eventhive_core.contracts.codec import parse_message

        envelopes = [parse_message(message) for message in messages]
        if not self._subscriber.needs_storage:
            for envelope in envelopes:
                with request_id_bound(envelope.request_id):
                    self._subscriber.handler(envelope, NO_UNIT_OF_WORK)
            return ["processed"] * len(messages)
        with self._services.storage.unit_of_work() as uow:
            processed = uow.processed
            if not isinstance(processed, BatchProcessedMessages):
                return None
            fresh = processed.add_many(self._subscriber.name, [m.id for m in messages], self._services.clock.now())
            outcomes: list[str] = []
            for envelope, message in zip(envelopes, messages, strict=True):
                if message.id not in fresh:
                    outcomes.append("duplicate")
                    continue
                fresh.discard(message.id)  # the same id twice in a batch reacts once
                with request_id_bound(envelope.request_id):
                    self._subscriber.handler(envelope, uow)
                outcomes.append("processed")
            uow.commit()
        return outcomes

    def _done(self, message: Message, outcome: str) -> None:
        metrics.event_consumed(self._subscriber.name, message.type, outcome)
        if outcome == "duplicate":
            log.debug("Dropped duplicate %s (%s) for %s", message.type, message.id, self._subscriber.name)
        else:
            log.debug("Delivered %s (%s) to %s", message.type, message.id, self._subscriber.name)


def counting_failures(subscriber: str, deliver: DeliveryT) -> DeliveryT:
    """Return ``deliver`` counting each delivery it raises on as ``failed`` for ``subscriber``.

    Every bus calls a subscriber through its delivery callback, so this counts failures on every
    bus alike; the callback itself counts what it processed and what it dropped as a duplicate.
    A :class:`~eventhive_core.ports.event_bus.BatchDelivery` stays one, its batches counted too.
    """
    if isinstance(deliver, BatchDelivery):
        return _CountedBatches(subscriber, deliver)  # type: ignore[return-value]

    def counted(message: Message) -> None:
        try:
            deliver(message)
        except Exception:
            metrics.event_consumed(subscriber, message.type, "failed")
            raise

    return counted  # type: ignore[return-value]


class _CountedBatches:
    def __init__(self, subscriber: str, deliver: BatchDelivery) -> None:
        self._subscriber = subscriber
        self._deliver = deliver

    def __repr__(self) -> str:
        return f"counting_failures({self._subscriber!r}, {self._deliver!r})"

    def __call__(self, message: Message) -> None:
        try:
            self._deliver(message)
        except Exception:
            metrics.event_consumed(self._subscriber, message.type, "failed")
            raise

    def deliver_many(self, messages: Sequence[Message]) -> list[Exception | None]:
        failures = self._deliver.deliver_many(messages)
        for message, failure in zip(messages, failures, strict=True):
            if failure is not None:
                metrics.event_consumed(self._subscriber, message.type, "failed")
        return failures


def subscribe_all(bus: EventBus, subscribers: Iterable[Subscription[SubscriberHandler]], services: Services) -> None:
    """Subscribe each subscriber to ``bus`` under its name and role, with its delivery callback.

    Raises:
        ValueError: Two subscribers share a name (the bus refuses the second).
    """
    for subscriber in subscribers:
        bus.subscribe(subscriber.name, subscriber.event_type, subscriber.role, make_delivery(subscriber, services))


__getattr__ = deprecated_names(__name__, {"Subscriber": (Subscription, "eventhive_core.ports.event_bus.Subscription")})
