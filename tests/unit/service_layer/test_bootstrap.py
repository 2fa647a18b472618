from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core import ConfigurationError, CreateTicket, PlaceOrder, SignUp, hookimpl
from eventhive_core.domain.ids import TicketId, UserId
from eventhive_core.domain.money import Money
from eventhive_core.domain.ticket import Ticket
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


GIG = Ticket(
    id=TicketId("t1"),
    title="Gig",
    price=Money(1500),
    owner_id=UserId("u1"),
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    capacity=10,
)


class MinutesAsNumbers:
    @hookimpl
    def eventhive_reservation_ttl(self):  # type: ignore[no-untyped-def]
        return 10


def test_the_reservation_ttl_and_late_payment_policy_default_to_the_settings_through_the_built_in_policies() -> None:
    with make_test_hive(reservation_ttl=90) as hive:
        assert hive.services.ttl_for(GIG, 1) == timedelta(seconds=90)
        assert hive.services.late_payment(None, None) == "refund"  # type: ignore[arg-type]


def test_with_the_built_in_policies_blocked_and_nothing_else_implementing_them_the_hive_does_not_start() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Nothing implements eventhive_reservation_ttl: builtin\.policies, .* is blocked"
    ):
        make_test_hive(block_plugins=("builtin.policies",))


class PassesOnEverything:
    @hookimpl
    def eventhive_reservation_ttl(self):  # type: ignore[no-untyped-def]
        return None

    @hookimpl
    def eventhive_late_payment_policy(self):  # type: ignore[no-untyped-def]
        return None


def test_with_the_built_in_policies_blocked_and_no_other_answer_a_policy_fails_naming_them() -> None:
    with make_test_hive(block_plugins=("builtin.policies",), plugins=(PassesOnEverything(),)) as hive:
        with pytest.raises(
            ConfigurationError, match=r"No plugin answered eventhive_reservation_ttl: .*builtin\.policies"
        ):
            hive.services.ttl_for(GIG, 1)
        with pytest.raises(ConfigurationError, match="No plugin answered eventhive_late_payment_policy"):
            hive.services.late_payment(None, None)  # type: ignore[arg-type]


def test_a_ttl_that_is_not_a_timedelta_fails_naming_the_hook() -> None:
    with (
        make_test_hive(plugins=(MinutesAsNumbers(),)) as hive,
        pytest.raises(ConfigurationError, match="eventhive_reservation_ttl returned 10; an implementation returns"),
    ):
        hive.services.ttl_for(GIG, 1)
