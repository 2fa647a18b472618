"""Command dispatch with bounded conflict retries, and deduplicated delivery to subscribers."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventhive_core.domain import commands as c
from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError
from eventhive_core.ports.messages import Message
from eventhive_core.service_layer import orders, payment_events, payments, refunds, tickets, users
from eventhive_core.service_layer.services import Services

if TYPE_CHECKING:
    from eventhive_core.contracts.envelope import Envelope
    from eventhive_core.ports.storage import UnitOfWork

log = logging.getLogger(__name__)

#: A subscriber's reaction to one event, run in its own unit of work.
SubscriberHandler = Callable[["Envelope", "UnitOfWork"], None]

HANDLERS: dict[type[c.Command], Callable[[Any, Services], Any]] = {
    c.SignUp: users.sign_up,
    c.SignIn: users.sign_in,
    c.SignOut: users.sign_out,
    c.BanUser: users.ban_user,
    c.CreateTicket: tickets.create_ticket,
    c.UpdateTicket: tickets.update_ticket,
    c.PlaceOrder: orders.place_order,
    c.CancelOrder: orders.cancel_order,
    c.ExpireOrder: orders.expire_order,
    c.SweepExpired: orders.sweep_expired,
    c.PayOrder: payments.pay_order,
    c.RefundOrder: refunds.refund_order,
    c.ReceivePaymentEvent: payment_events.receive_payment_event,
}

#: Attempts of a command that keeps losing races (or meeting a busy database) before the error surfaces.
MAX_ATTEMPTS = 4


class MessageBus:
    """Runs commands in the caller's thread; retries lost races and transient storage errors with jitter."""

    def __init__(self, services: Services, after_command: Callable[[], None] | None = None) -> None:
        self._services = services
        self._after_command = after_command or (lambda: None)

    def handle(self, command: c.Command) -> object:
        """Run the command's handler and return its result; domain errors propagate."""
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"No handler for {type(command).__name__}")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result = handler(command, self._services)
            except (ConcurrencyConflict, TransientStorageError):
                # Lost a race, or the database was briefly busy: the handler runs whole again.
                if attempt == MAX_ATTEMPTS:
                    raise
                # Jittered backoff so racing writers do not collide again in lock-step.
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - not for security
                continue
            # A command may have written outbox rows: wake the relay.
            self._after_command()
            return result
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A named reaction to one event type.

    Attributes:
        name: Stable name; the key of its processed-message ids.
        event_type: The subject it reacts to.
        role: The component it belongs to (``orders``, ``payments``, ``expiration``, ``auth``...).
        handler: The reaction.
    """

    name: str
    event_type: str
    role: str
    handler: SubscriberHandler


def make_delivery(subscriber: Subscriber, services: Services) -> Callable[[Message], None]:
    """Return the callback a bus calls for ``subscriber``: parse, drop duplicates, react, commit.

    The processed-message id is inserted in the same transaction as the reaction's own writes,
    so a redelivered event changes nothing, and a failed reaction is retried whole.
    """
    from eventhive_core.contracts.registry import parse_message

    def deliver(message: Message) -> None:
        envelope = parse_message(message)
        with services.storage.unit_of_work() as uow:
            if not uow.processed.add(subscriber.name, message.id, services.clock.now()):
                log.debug("Dropped duplicate %s (%s) for %s", message.type, message.id, subscriber.name)
                return
            subscriber.handler(envelope, uow)
            uow.commit()

    return deliver
