"""Command dispatch with bounded conflict retries.

Deduplicated delivery to subscribers lives in :mod:`eventhive_core.service_layer.subscriptions`;
``make_delivery`` and ``SubscriberHandler`` are still importable from here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from eventhive_core.deprecation import deprecated_names
from eventhive_core.domain import commands
from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.service_layer import orders, payment_events, payments, refunds, tickets, users
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.subscriptions import SubscriberHandler, make_delivery

__all__ = ["HANDLERS", "MAX_ATTEMPTS", "MessageBus", "SubscriberHandler", "make_delivery"]

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


__getattr__ = deprecated_names(__name__, {"Subscriber": (Subscription, "eventhive_core.ports.event_bus.Subscription")})
