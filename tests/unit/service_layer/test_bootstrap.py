from __future__ import annotations

import pytest

from eventhive_core import ConfigurationError, CreateTicket, PlaceOrder, SignUp, hookimpl
from eventhive_core.testing.hives import make_test_hive


class ClashingPlugin:
    @hookimpl
    def eventhive_register_subscribers(self, register):  # type: ignore[no-untyped-def]
        register("expiration.schedule_expiry", "order:created", "mail", lambda envelope, uow: None)


class ReceiptPlugin:
    def __init__(self) -> None:
        self.orders: list[str] = []

    @hookimpl
    def eventhive_register_subscribers(self, register):  # type: ignore[no-untyped-def]
        register("mail.receipt", "order:created", "mail", lambda envelope, uow: self.orders.append(envelope.data["id"]))


def test_a_plugin_subscriber_cannot_take_a_core_subscribers_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_test_hive(plugins=(ClashingPlugin(),))
    assert "'expiration.schedule_expiry', which EventHive's core uses" in caught.value.message


def test_a_plugin_subscriber_with_its_own_name_gets_each_event_once() -> None:
    plugin = ReceiptPlugin()
    with make_test_hive(plugins=(plugin,)) as hive:
        seller = hive.handle(SignUp(email="s@example.com", password="password")).user.id
        buyer = hive.handle(SignUp(email="b@example.com", password="password")).user.id
        ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price=5)).id
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
        hive.relay_outbox()
        hive.relay_outbox()
    assert plugin.orders == [order.id]
