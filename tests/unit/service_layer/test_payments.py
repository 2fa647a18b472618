from __future__ import annotations

import pytest

from eventhive_core import (
    CancelOrder,
    CannotPayCancelledOrder,
    CreateTicket,
    Hive,
    NotAuthorized,
    NotFound,
    OrderAlreadyPaid,
    OrderStatus,
    PaymentDeclined,
    PayOrder,
    PlaceOrder,
    ValidationFailed,
)
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive


def gateway(hive: Hive):  # type: ignore[no-untyped-def]
    return hive.payment_gateway


def make_provider_slow(hive: Hive, clock: FrozenClock) -> None:
    """Make the fake provider take its time: the hold runs out while it is charging."""
    fake = gateway(hive)
    real_charge = fake.charge

    def slow_charge(**kwargs):  # type: ignore[no-untyped-def]
        clock.advance(seconds=61)
        return real_charge(**kwargs)

    fake.charge = slow_charge


def test_paying_completes_the_order_and_charges_once_in_minor_units(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    payment = hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    assert payment.status == "succeeded"
    assert hive.queries.order(order.id).status is OrderStatus.COMPLETE
    charges = gateway(hive).charges
    assert len(charges) == 1
    assert (charges[0].amount.minor, charges[0].amount.currency, charges[0].token) == (2000, "USD", "tok_visa")
    view = hive.queries.ticket(gig)
    assert (view.sold, view.held, view.available) == (1, 0, 0)


def test_a_paid_order_cannot_be_paid_again(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    with pytest.raises(OrderAlreadyPaid) as caught:
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    assert caught.value.message == "Order is already paid"
    assert len(gateway(hive).charges) == 1


def test_paying_a_cancelled_order_gets_the_originals_message(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    hive.handle(CancelOrder(order_id=order.id, actor_id=ann))
    with pytest.raises(CannotPayCancelledOrder) as caught:
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    assert caught.value.message == "Order is already cancelled. Cannot make payment."
    assert gateway(hive).charges == []


def test_paying_after_the_hold_ran_out_expires_the_order_on_the_spot(
    hive: Hive, clock: FrozenClock, ann: str, gig: str
) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    clock.advance(seconds=61)
    with pytest.raises(CannotPayCancelledOrder):
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    view = hive.queries.order(order.id)
    assert (view.status, view.cancel_reason) == (OrderStatus.CANCELLED, "expired")
    assert gateway(hive).charges == []


def test_a_declined_card_leaves_the_order_open_for_another_try(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(PaymentDeclined):
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_chargeDeclined"))
    assert hive.queries.order(order.id).status is OrderStatus.CREATED
    hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    assert hive.queries.order(order.id).status is OrderStatus.COMPLETE


def test_only_the_buyer_may_pay(hive: Hive, ann: str, bob: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(NotAuthorized):
        hive.handle(PayOrder(order_id=order.id, actor_id=bob, token="tok_visa"))


def test_paying_an_unknown_order_is_not_found(hive: Hive, ann: str) -> None:
    with pytest.raises(NotFound):
        hive.handle(PayOrder(order_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01", actor_id=ann, token="tok_visa"))


def test_a_payment_without_token_or_order_reports_both_fields(hive: Hive, ann: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(PayOrder(order_id="", actor_id=ann, token=""))
    assert caught.value.serialize() == [
        {"message": "Token must be provided", "field": "token"},
        {"message": "OrderId must be provided", "field": "orderId"},
    ]


def test_money_arriving_after_the_hold_ran_out_is_refunded(hive: Hive, clock: FrozenClock, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    make_provider_slow(hive, clock)
    fake = gateway(hive)
    with pytest.raises(CannotPayCancelledOrder):
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    assert hive.queries.order(order.id).status is OrderStatus.CANCELLED
    assert len(fake.refunds) == 1
    assert hive.queries.ticket(gig).sold == 0


@pytest.mark.parametrize("key", [None, "key-1"], ids=["without a key", "placed with an Idempotency-Key"])
def test_late_money_buys_the_units_again_when_the_policy_accepts_and_they_are_free(
    clock: FrozenClock, key: str | None
) -> None:
    with make_test_hive(clock, late_payment_policy="accept_if_available") as hive:
        from eventhive_core import SignUp

        buyer = hive.handle(SignUp(email="b@example.com", password="password")).user.id
        owner = hive.handle(SignUp(email="o@example.com", password="password")).user.id
        ticket = hive.handle(CreateTicket(owner_id=owner, title="Gig", price=20)).id
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket, idempotency_key=key))
        make_provider_slow(hive, clock)
        payment = hive.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
        assert payment.status == "succeeded"
        assert payment.order_id != order.id
        assert hive.queries.order(payment.order_id).status is OrderStatus.COMPLETE
        assert hive.queries.ticket(ticket).sold == 1
        assert gateway(hive).refunds == []
