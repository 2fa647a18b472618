"""Who owns what in a split platform, and which subscribers each service runs.

The whole platform in one process owns every record. Split, as the original was, each service
owns its records and keeps replicas of what it needs from the others, fed by their events:

========== ===================== =================================== ======================================
Service    Owns                  Keeps replicas of                   Reacts to
========== ===================== =================================== ======================================
auth       users, signing key    --                                  --
tickets    tickets and edits     orders (held and sold units)        ``order:*``
orders     orders, reservations  tickets (capacity, price, owner)    ``ticket:*``, ``payment:created``,
                                                                     ``expiration:due``
payments   payments              tickets, orders                     ``ticket:*``, ``order:*``,
                                                                     ``order:payment_refused``
expiration expiry requests       tickets, orders                     ``ticket:*``, ``order:*``
client     --                    --                                  --
========== ===================== =================================== ======================================

``client`` renders the web pages by calling the other services' JSON API: it keeps no records.

Every service also feeds its own denylist from ``user:banned`` and ``user:signed_out``
(:mod:`eventhive_core.service_layer.denylist_feed`), so a ban or a sign-out reaches each of them.
"""

from __future__ import annotations

from typing import Final

from eventhive_core.domain.events import OrderCancelled, OrderPaymentRefused
from eventhive_core.ports.event_bus import EventBus, Subscription
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.service_layer.expiry import schedule_expiry_subscriber
from eventhive_core.service_layer.expiry_requests import expire_when_due_subscriber
from eventhive_core.service_layer.messagebus import SubscriberHandler
from eventhive_core.service_layer.payment_decisions import (
    REFUND_REFUSED_PAYMENT,
    REFUND_SELLERS_REFUND,
    attach_to_replacement_subscriber,
    refund_refused_payment_delivery,
    refund_sellers_refund_delivery,
    settle_payment_subscriber,
)
from eventhive_core.service_layer.replicas import order_replica_subscribers, ticket_replica_subscribers
from eventhive_core.service_layer.services import Services

#: The services of a split platform, in the order they are usually started.
ROLES: Final = ("auth", "tickets", "orders", "payments", "expiration")

#: The role that renders the web pages over the others' API (no records, no subscribers).
CLIENT_ROLE: Final = "client"


def role_subscribers(
    role: str | None, services: Services, scheduler: ExpiryScheduler
) -> list[Subscription[SubscriberHandler]]:
    """Return the subscribers of ``role`` (None: the whole platform), denylist feed aside.

    Args:
        role: The service, or None for the whole platform in one process.
        services: The Hive's services.
        scheduler: The Hive's expiry scheduler (the whole platform and the expiration service
            schedule one expiry per new order).
    """
    if role is None:
        return [schedule_expiry_subscriber(scheduler, services.expiration)]
    if role == "tickets":
        return order_replica_subscribers(role)
    if role == "orders":
        return [
            *ticket_replica_subscribers(role),
            settle_payment_subscriber(services),
            expire_when_due_subscriber(services),
        ]
    if role == "payments":
        return [*ticket_replica_subscribers(role), *order_replica_subscribers(role), attach_to_replacement_subscriber()]
    if role == "expiration":
        return [
            *ticket_replica_subscribers(role),
            *order_replica_subscribers(role),
            schedule_expiry_subscriber(scheduler, services.expiration),
        ]
    return []  # auth: users are its own, and it needs nobody's records; client: it asks the API instead


def subscribe_role_deliveries(role: str | None, bus: EventBus, services: Services) -> list[str]:
    """Subscribe the role's subscribers that are not ordinary units of work; return their names.

    ``payments.refund_refused_payment`` and ``payments.refund_sellers_refund`` call the provider
    outside any transaction, so they are subscribed with their own delivery callbacks rather than
    through ``subscribe_all``.
    """
    if role != "payments":
        return []
    bus.subscribe(REFUND_REFUSED_PAYMENT, OrderPaymentRefused.type, role, refund_refused_payment_delivery(services))
    bus.subscribe(REFUND_SELLERS_REFUND, OrderCancelled.type, role, refund_sellers_refund_delivery(services))
    return [REFUND_REFUSED_PAYMENT, REFUND_SELLERS_REFUND]


__all__ = ["CLIENT_ROLE", "ROLES", "role_subscribers", "subscribe_role_deliveries"]
