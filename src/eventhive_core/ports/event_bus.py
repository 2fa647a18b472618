"""The event bus port: publish messages, deliver them to named subscribers.

Besides the protocol, this module holds what every bus keeps about its subscribers: the one
:class:`Subscription` record and the :class:`SubscriptionTable` that enforces unique names and
hands out snapshots by event type (or by role, for buses that run one consumer per role).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar, runtime_checkable

from eventhive_core.ports.messages import Message

__all__ = [
    "BatchDelivery",
    "BusClosed",
    "DeliverLater",
    "Delivery",
    "DeliveryFailed",
    "EventBus",
    "ReachableBus",
    "Subscription",
    "SubscriptionTable",
    "check_reachable",
    "deliver_in_batches",
    "deliver_to_each",
    "only_later",
    "publish_all",
]

logger = logging.getLogger(__name__)

#: A delivery callback: handles one message or raises to have it redelivered later.
Delivery = Callable[[Message], None]


@runtime_checkable
class BatchDelivery(Protocol):
    """A :data:`Delivery` that can also take several messages at once (what the core's subscribers give buses).

    A bus holding several messages for one subscriber (the in-process bus, handed an outbox batch)
    calls ``deliver_many`` once instead of the callback once per message: the core's subscribers
    then record and handle the batch in one unit of work.
    """

    def __call__(self, message: Message) -> None:
        """Handle one message, or raise to have it delivered again later."""
        ...

    def deliver_many(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Handle ``messages`` in order; return each one's failure, or None where it was handled."""
        ...


#: What a subscription calls: a :data:`Delivery` on a bus, a handler of envelopes before wiring.
HandlerT = TypeVar("HandlerT", covariant=True)


@dataclass(frozen=True, slots=True)
class Subscription(Generic[HandlerT]):
    """A named reaction to one event type.

    The same record serves every stage: a plugin registers one with a handler of envelopes
    (``Subscription[SubscriberHandler]``), the composition root wires it, and the bus keeps one
    with the delivery callback it calls (``Subscription[Delivery]``).

    Attributes:
        name: Stable, unique name; the key of its processed-message ids, so renaming it makes old
            events look new.
        event_type: The subject it reacts to, e.g. ``order:created``.
        role: The component it belongs to (``orders``, ``payments``, ``expiration``...). Buses that
            run one durable consumer per role (NATS) group subscriptions by it.
        handler: The callback.
        plugin: The plugin that registered it, or None for the core's own and when unknown.
        needs_storage: False for a reaction that writes nothing to storage and is harmless to
            repeat (the core's expiry scheduling: a timer set twice fires once, an expiry run
            twice changes nothing the second time). Its deliveries open no unit of work and
            record no processed-message id, so a duplicate reacts again.

    Examples:
        >>> Subscription("audit", "order:created", "orders", print).name
        'audit'
    """

    name: str
    event_type: str
    role: str
    handler: HandlerT
    plugin: str | None = None
    needs_storage: bool = True

    @property
    def deliver(self) -> HandlerT:
        """The callback, by the name the buses' records used before they shared this one."""
        return self.handler


class SubscriptionTable:
    """A bus's subscriptions: unique names, registration order, lock-free snapshots by type and role.

    Thread-safe: subscriptions may be added while other threads read snapshots. Every bus uses
    one (in-process, Celery, NATS, the tests' recording bus), so the rules are the same on all.

    Examples:
        >>> table = SubscriptionTable()
        >>> table.add("audit", "order:created", "orders", print).role
        'orders'
        >>> [s.name for s in table.of_type("order:created")], table.of_type("order:cancelled")
        (['audit'], ())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Subscription[Delivery]] = {}
        self._by_type: dict[str, tuple[Subscription[Delivery], ...]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_name)

    def __repr__(self) -> str:
        return f"SubscriptionTable(names={self.names()!r})"

    def add(self, name: str, event_type: str, role: str, deliver: Delivery) -> Subscription[Delivery]:
        """Register ``deliver`` for ``event_type`` under a unique ``name`` and return the record.

        Raises:
            ValueError: The name is empty or already taken (for any event type).
        """
        if not name:
            raise ValueError("A subscriber needs a name")
        with self._lock:
            existing = self._by_name.get(name)
            if existing is not None:
                raise ValueError(
                    f"A subscriber named {name!r} is already registered (for {existing.event_type}, role "
                    f"{existing.role!r}); names must be unique because processed-message ids are kept per name"
                )
            subscription = Subscription(name=name, event_type=event_type, role=role, handler=deliver)
            self._by_name[name] = subscription
            # Copy-on-write, so a reader iterates its snapshot without holding the lock.
            self._by_type[event_type] = (*self._by_type.get(event_type, ()), subscription)
            return subscription

    def all(self) -> tuple[Subscription[Delivery], ...]:
        """Return every subscription, in registration order."""
        with self._lock:
            return tuple(self._by_name.values())

    def of_type(self, event_type: str) -> tuple[Subscription[Delivery], ...]:
        """Return the subscriptions to ``event_type``, in registration order."""
        with self._lock:
            return self._by_type.get(event_type, ())

    def get(self, name: str) -> Subscription[Delivery] | None:
        """Return the subscription named ``name``, or None."""
        with self._lock:
            return self._by_name.get(name)

    def names(self) -> list[str]:
        """Return the subscribers' names, sorted."""
        with self._lock:
            return sorted(self._by_name)

    def by_role(self) -> dict[str, tuple[Subscription[Delivery], ...]]:
        """Return the subscriptions grouped by role, each group in registration order.

        For buses that run one durable consumer per role: each role's consumer needs the subjects
        of its group and the subscriber to call for each.

        Examples:
            >>> table = SubscriptionTable()
            >>> _ = table.add("a", "order:created", "expiration", print)
            >>> _ = table.add("b", "order:cancelled", "orders", print)
            >>> sorted(table.by_role())
            ['expiration', 'orders']
        """
        grouped: dict[str, tuple[Subscription[Delivery], ...]] = {}
        for subscription in self.all():
            grouped[subscription.role] = (*grouped.get(subscription.role, ()), subscription)
        return grouped


class DeliverLater(Exception):
    """Raised by a subscriber for a message it cannot handle until another has arrived.

    An event ahead of its predecessor (a replica's ``ReplicaBehind``) is not a failure: the
    predecessor is on its way (redelivered after a crash, say, once the bus's ack wait is over).
    Buses deliver such a message again later, as a failed one, but give up on it only once it
    has waited much longer than a failure would (the NATS bus: an hour).
    """


def only_later(error: Exception) -> bool:
    """Tell whether ``error`` says "later" and nothing else: a DeliverLater, or a DeliveryFailed of only those."""
    if isinstance(error, DeliveryFailed):
        return bool(error.errors) and all(isinstance(e, DeliverLater) for e in error.errors.values())
    return isinstance(error, DeliverLater)


class BusClosed(RuntimeError):
    """The bus was closed; nothing more can be published or subscribed."""


class DeliveryFailed(Exception):
    """One or more subscribers raised while handling a message.

    Every other subscriber was still called. Delivering the same message again retries it, and
    the subscribers that had succeeded drop it as a duplicate.

    Attributes:
        message: The message that failed.
        errors: The exception each failing subscriber raised, by subscriber name, in delivery order.
    """

    def __init__(self, message: Message, errors: Mapping[str, Exception]) -> None:
        self.message = message
        self.errors: Mapping[str, Exception] = MappingProxyType(dict(errors))
        super().__init__(
            f"Delivery of {message.type} {message.id} failed for {len(self.errors)} subscriber(s): {self.details}"
        )

    @property
    def failed(self) -> tuple[str, ...]:
        """The names of the subscribers that failed, in delivery order."""
        return tuple(self.errors)

    @property
    def details(self) -> str:
        """Each failing subscriber with its error: ``name: Type: text; ...``."""
        return "; ".join(f"{name}: {type(exc).__name__}: {exc}" for name, exc in self.errors.items())


def deliver_to_each(subscriptions: Iterable[Subscription[Delivery]], message: Message) -> None:
    """Call each subscription on ``message`` in order, every one even when an earlier one raised.

    What every bus does once it holds a message: a failing subscriber must not starve the others,
    and the message is then delivered again to all of them (those that succeeded drop it by its id).

    Raises:
        DeliveryFailed: Some subscribers raised; the error names each, in delivery order.
    """
    errors: dict[str, Exception] = {}
    for subscription in subscriptions:
        try:
            subscription.handler(message)
        except Exception as exc:  # one failing subscriber must not starve the others
            _log_failure(subscription, message, exc)
            errors[subscription.name] = exc
    if errors:
        raise DeliveryFailed(message, errors)


def deliver_in_batches(
    subscriptions: Iterable[Subscription[Delivery]], messages: Sequence[Message]
) -> list[Exception | None]:
    """Deliver ``messages`` to every subscription of their types; return each message's failure, or None.

    Each subscription is called once with all of its messages, in order, when its callback is a
    :class:`BatchDelivery`, else once per message. As with :func:`deliver_to_each`, a failing
    subscriber starves no other, and a message some subscriber failed on fails as a whole
    (:class:`DeliveryFailed` naming each), to be delivered again to all.
    """
    errors: list[dict[str, Exception]] = [{} for _ in messages]
    for subscription in subscriptions:
        mine = [n for n, message in enumerate(messages) if message.type == subscription.event_type]
        if not mine:
            continue
        batch = [messages[n] for n in mine]
        handler = subscription.handler
        outcomes = handler.deliver_many(batch) if isinstance(handler, BatchDelivery) else _one_by_one(handler, batch)
        if len(outcomes) != len(batch):
            raise ValueError(f"Subscriber {subscription.name} answered for {len(outcomes)} of {len(batch)} messages")
        for n, exc in zip(mine, outcomes, strict=True):
            if exc is not None:
                _log_failure(subscription, messages[n], exc)
                errors[n][subscription.name] = exc
    return [DeliveryFailed(m, failed) if failed else None for m, failed in zip(messages, errors, strict=True)]


def _one_by_one(deliver: Delivery, messages: Sequence[Message]) -> list[Exception | None]:
    outcomes: list[Exception | None] = []
    for message in messages:
        try:
            deliver(message)
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)
    return outcomes


def _log_failure(subscription: Subscription[Delivery], message: Message, exc: Exception) -> None:
    logger.warning(
        "Subscriber %s failed on %s %s; it will be retried",
        subscription.name,
        message.type,
        message.id,
        exc_info=exc,
    )


class EventBus(Protocol):
    """Carries integration events from the outbox relay to subscribers.

    Delivery is at least once: a subscriber may see the same message id twice, and the
    service layer drops the duplicate (processed-message ids). The built-in buses keep their
    subscribers in a :class:`SubscriptionTable` and show them as ``subscriptions``; a new bus
    should do the same, so names are checked alike everywhere.
    """

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a stable subscriber ``name`` and a ``role``."""
        ...

    def publish(self, message: Message) -> None:
        """Hand one message over; raise if it could not be, so the relay retries it."""
        ...

    def start(self) -> None:
        """Begin consuming (a no-op for buses that deliver inside ``publish``)."""
        ...

    def close(self) -> None:
        """Stop consuming and release connections."""
        ...


class ReachableBus(Protocol):
    """A bus that can tell whether its server answers (what readiness probes ask).

    Optional: a bus without :meth:`check_reachable` (a plugin's written before it existed, or one
    with no server to reach) is taken as reachable; :func:`check_reachable` looks the method up.
    """

    def check_reachable(self, timeout: float) -> None:
        """Return once the bus's server answered a round trip within ``timeout`` seconds.

        Raises:
            Exception: It did not (not connected, refused, timed out, closed); the text says why.
        """
        ...


def check_reachable(bus: EventBus, timeout: float) -> None:
    """Ask ``bus`` whether its server answers within ``timeout`` seconds; a bus that cannot say is reachable.

    Raises:
        Exception: Whatever the bus's own :meth:`ReachableBus.check_reachable` raised.
    """
    own = getattr(bus, "check_reachable", None)
    if callable(own):
        own(timeout)


def publish_all(bus: EventBus, messages: Sequence[Message]) -> list[Exception | None]:
    """Publish ``messages`` in order; return each one's failure, or None where it was handed over.

    A bus that can have several publishes in flight at once (NATS) says so with a
    ``publish_all(messages)`` method of its own, returning one failure or None per message,
    which this calls; any other bus gets :meth:`EventBus.publish` once per message. Either way
    one failure never stops the rest, and an error of the whole batch fails each message.

    Raises:
        ValueError: The bus's ``publish_all`` answered for another number of messages.
    """
    own = getattr(bus, "publish_all", None)
    if callable(own):
        try:
            answered: list[Exception | None] = list(own(messages))
        except Exception as exc:
            return [exc] * len(messages)
        if len(answered) != len(messages):
            raise ValueError(f"{bus!r}.publish_all answered for {len(answered)} of {len(messages)} messages")
        return answered
    failures: list[Exception | None] = []
    for message in messages:
        try:
            bus.publish(message)
        except Exception as exc:
            failures.append(exc)
        else:
            failures.append(None)
    return failures
