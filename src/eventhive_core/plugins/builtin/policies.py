"""Built-in plugin: the default policies, which run last and answer from the settings.

This is the one place the defaults come from: ``bootstrap`` asks the hooks and takes their
answer as it is, so a plugin that returns None leaves the choice to these.
"""

from __future__ import annotations

from datetime import timedelta

from eventhive_core.domain.order import Order
from eventhive_core.domain.payment import Payment
from eventhive_core.domain.ticket import Ticket
from eventhive_core.plugins.hookspecs import LatePaymentAction
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.settings import HiveSettings


@hookimpl(trylast=True)
def eventhive_reservation_ttl(ticket: Ticket, quantity: int, settings: HiveSettings) -> timedelta | None:
    """Hold every order for ``EVENTHIVE_RESERVATION_TTL``."""
    return settings.reservation_ttl


@hookimpl(trylast=True)
def eventhive_late_payment_policy(order: Order, payment: Payment, settings: HiveSettings) -> LatePaymentAction | None:
    """Apply ``EVENTHIVE_LATE_PAYMENT_POLICY``."""
    return settings.late_payment_policy
