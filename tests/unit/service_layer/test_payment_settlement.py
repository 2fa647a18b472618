"""One charge per order, webhooks and refunds in the service layer, with the fake provider (no network).

The same paths run end to end through Stripe in tests/stripe; these prove the rules live in the
core, whatever the provider, and run in the core-only environment.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from eventhive_core import (
    AmountBelowMinimum,
    CreateTicket,
    Hive,
    NotAuthorized,
    NotFound,
    OrderAlreadyPaid,
    OrderNotComplete,
    OrderStatus,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PayOrder,
    PlaceOrder,
    ReceivePaymentEvent,
    RefundOrder,
    WebhookOutcome,
    WebhookRejected,
)
from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import ProviderEventKind
from eventhive_core.testing.fakes import FrozenClock, HeldPaymentGateway
from eventhive_core.testing.hives import make_test_hive

Hook = tuple[bytes, dict[str, str]]


def sign_up(hive: Hive, email: str) -> str:
    from eventhive_core import SignUp

    return hive.handle(SignUp(email=email, password="password")).user.id


def fake(hive: Hive) -> FakePaymentGateway:
    gateway = hive.payment_gateway
    assert isinstance(gateway, FakePaymentGateway)
    return gateway


def pay(hive: Hive, order_id: str, buyer: str, token: str = "tok_visa") -> Any:
    return hive.handle(PayOrder(order_id=order_id, actor_id=buyer, token=token))


def deliver(hive: Hive, hook: Hook, provider: str = "fake") -> WebhookOutcome:
    payload, headers = hook
    return hive.handle(ReceivePaymentEvent(provider=provider, payload=payload, headers=headers))


def status(hive: Hive, order_id: str) -> OrderStatus:
    return hive.queries.order(order_id).status


@pytest.fixture
def order(hive: Hive, ann: str, gig: str) -> str:
    return hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig)).id


# --- lost answers, switching cards, racing --------------------------------------------------


def test_a_lost_answer_keeps_the_attempt_open_and_the_retry_reuses_its_key(hive: Hive, ann: str, order: str) -> None:
    fake(hive).lose_answers()

    with pytest.raises(PaymentProviderUnavailable):
        pay(hive, order, ann)

    assert status(hive, order) is OrderStatus.AWAITING_PAYMENT
    assert pay(hive, order, ann).status == "succeeded"
    assert status(hive, order) is OrderStatus.COMPLETE
    assert len(fake(hive).charges) == 1
    assert fake(hive).money_taken() == 2000


def test_another_card_after_a_lost_answer_settles_with_the_money_already_taken(
    hive: Hive, ann: str, order: str
) -> None:
    fake(hive).lose_answers()
    with pytest.raises(PaymentProviderUnavailable):
        pay(hive, order, ann, "tok_visa")

    with pytest.raises(OrderAlreadyPaid):
        pay(hive, order, ann, "tok_mastercard")

    assert status(hive, order) is OrderStatus.COMPLETE
    assert [c.token for c in fake(hive).charges] == ["tok_visa"]


def test_another_card_during_3d_secure_cancels_the_waiting_attempt_first(hive: Hive, ann: str, order: str) -> None:
    waiting = pay(hive, order, ann, "tok_threeDSecure2Required")
    assert (waiting.status, waiting.client_secret is not None) == ("pending", True)

    assert pay(hive, order, ann, "tok_visa").status == "succeeded"

    assert fake(hive).cancelled == [waiting.provider_ref]
    assert fake(hive).money_taken() == 2000


def test_another_card_after_a_decline_cancels_the_declined_attempt_first(hive: Hive, ann: str, order: str) -> None:
    from eventhive_core import PaymentDeclined

    with pytest.raises(PaymentDeclined, match="declined"):
        pay(hive, order, ann, "tok_chargeDeclined")
    assert status(hive, order) is OrderStatus.CREATED

    assert pay(hive, order, ann, "tok_visa").status == "succeeded"
    with hive.uow() as uow:
        assert [p.status for p in uow.payments.for_order(order)] == ["failed", "succeeded"]


def test_two_pays_racing_charge_once_and_the_second_is_told_a_payment_is_in_progress(clock: FrozenClock) -> None:
    gateway = HeldPaymentGateway()
    with make_test_hive(clock, payment_gateway=gateway) as hive:
        buyer, seller = sign_up(hive, "b@example.com"), sign_up(hive, "s@example.com")
        gig = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20")).id
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=gig)).id
        results: list[Any] = []
        first = threading.Thread(target=lambda: results.append(pay(hive, order, buyer, "tok_visa")))
        first.start()
        assert gateway.charging.wait(5)

        with pytest.raises(PaymentInProgress, match="A payment for this order is in progress"):
            pay(hive, order, buyer, "tok_mastercard")
        gateway.release.set()
        first.join(5)

        assert results[0].status == "succeeded"
        assert [c.token for c in gateway.charges] == ["tok_visa"]


# --- webhooks ---------------------------------------------------------------------------------


def test_a_3d_secure_success_reported_by_webhook_completes_the_order_once(hive: Hive, ann: str, order: str) -> None:
    waiting = pay(hive, order, ann, "tok_threeDSecure2Required")
    fake(hive).complete_action(waiting.provider_ref)
    hook = fake(hive).webhook(ProviderEventKind.PAYMENT_SUCCEEDED, waiting.provider_ref)

    assert deliver(hive, hook) is WebhookOutcome.APPLIED
    assert deliver(hive, hook) is WebhookOutcome.DUPLICATE
    assert status(hive, order) is OrderStatus.COMPLETE
    assert fake(hive).money_taken() == 2000
    with pytest.raises(OrderAlreadyPaid):
        pay(hive, order, ann, "tok_threeDSecure2Required")


def test_a_webhook_with_a_wrong_signature_is_rejected_and_changes_nothing(hive: Hive, ann: str, order: str) -> None:
    waiting = pay(hive, order, ann, "tok_threeDSecure2Required")
    fake(hive).complete_action(waiting.provider_ref)
    payload, headers = fake(hive).webhook(ProviderEventKind.PAYMENT_SUCCEEDED, waiting.provider_ref)

    with pytest.raises(WebhookRejected):
        deliver(hive, (payload, {**headers, "x-fake-signature": "0" * 64}))
    with pytest.raises(WebhookRejected):
        deliver(hive, (payload, {}))
    with pytest.raises(NotFound):
        deliver(hive, (payload, headers), provider="stripe")
    assert status(hive, order) is OrderStatus.AWAITING_PAYMENT


def test_a_webhook_about_a_charge_nobody_here_made_is_acknowledged(hive: Hive) -> None:
    stranger = FakePaymentGateway(webhook_secret=fake(hive).webhook_secret)
    ref = stranger.charge(amount=Money(500), token="tok_visa", idempotency_key="elsewhere", metadata={}).provider_ref
    assert ref is not None

    assert deliver(hive, stranger.webhook(ProviderEventKind.PAYMENT_SUCCEEDED, ref)) is WebhookOutcome.IGNORED


def test_money_after_the_hold_ran_out_is_refunded_when_the_webhook_reports_it(
    hive: Hive, clock: FrozenClock, ann: str, order: str
) -> None:
    waiting = pay(hive, order, ann, "tok_threeDSecure2Required")
    clock.advance(seconds=61)
    fake(hive).complete_action(waiting.provider_ref)

    deliver(hive, fake(hive).webhook(ProviderEventKind.PAYMENT_SUCCEEDED, waiting.provider_ref))

    assert status(hive, order) is OrderStatus.CANCELLED
    assert fake(hive).money_taken() == 0
    with hive.uow() as uow:
        assert [p.status for p in uow.payments.for_order(order)] == ["refunded"]


def test_money_for_an_order_already_paid_is_refunded_whatever_the_policy(clock: FrozenClock) -> None:
    with make_test_hive(clock, late_payment_policy="accept_if_available") as hive:
        buyer, seller = sign_up(hive, "b@example.com"), sign_up(hive, "s@example.com")
        gig = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20", capacity=2)).id
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=gig)).id
        fake(hive).lose_answers()
        with pytest.raises(PaymentProviderUnavailable):
            pay(hive, order, buyer, "tok_threeDSecure2Required")  # pending, the answer lost
        with hive.uow() as uow:
            (first,) = uow.payments.for_order(order)
        # The buyer moves on; the first attempt is cancelled (it only waited for 3-D Secure).
        assert pay(hive, order, buyer, "tok_visa").status == "succeeded"
        stray = fake(hive).charge(amount=Money(2000), token="tok_amex", idempotency_key="stray", metadata={})
        assert stray.provider_ref is not None
        with hive.uow() as uow:
            before = uow.payments.get(first.id)
            assert before is not None
            uow.payments.save(before, before.settled(before.status, stray.provider_ref))
            uow.commit()

        deliver(hive, fake(hive).webhook(ProviderEventKind.PAYMENT_SUCCEEDED, stray.provider_ref))

        assert fake(hive).money_taken() == 2000
        assert hive.queries.ticket(gig).sold == 1
        assert len(hive.queries.orders_for_user(buyer).items) == 1


# --- refunds ----------------------------------------------------------------------------------


def test_the_seller_refunds_a_paid_order_which_frees_its_units(hive: Hive, ann: str, seller: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig)).id
    pay(hive, order, ann)

    view = hive.handle(RefundOrder(order_id=order, actor_id=seller))

    assert (view.status, view.cancel_reason) == (OrderStatus.CANCELLED, "refunded")
    assert fake(hive).money_taken() == 0
    assert hive.queries.ticket(gig).available == 1
    with pytest.raises(OrderNotComplete):
        hive.handle(RefundOrder(order_id=order, actor_id=seller))
    assert len(fake(hive).refunds) == 1


def test_only_the_seller_may_refund(hive: Hive, ann: str, bob: str, order: str) -> None:
    pay(hive, order, ann)

    for someone in (ann, bob):
        with pytest.raises(NotAuthorized):
            hive.handle(RefundOrder(order_id=order, actor_id=someone))
    with pytest.raises(NotFound):
        hive.handle(RefundOrder(order_id="nope", actor_id=bob))
    assert fake(hive).refunds == []


def test_a_dashboard_refund_is_recorded_and_leaves_the_order_to_the_seller(
    hive: Hive, ann: str, seller: str, gig: str
) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig)).id
    paid = pay(hive, order, ann)
    fake(hive).refund_in_dashboard(paid.provider_ref)

    deliver(hive, fake(hive).webhook(ProviderEventKind.REFUNDED, paid.provider_ref))

    assert status(hive, order) is OrderStatus.COMPLETE
    assert hive.queries.ticket(gig).sold == 1
    assert hive.handle(RefundOrder(order_id=order, actor_id=seller)).status is OrderStatus.CANCELLED
    assert len(fake(hive).refunds) == 1
    assert hive.queries.ticket(gig).available == 1


def test_an_amount_below_the_providers_minimum_is_refused_before_it_is_asked(clock: FrozenClock) -> None:
    gateway = FakePaymentGateway(minimums={"USD": 50})
    with make_test_hive(clock, payment_gateway=gateway) as hive:
        buyer, seller = sign_up(hive, "b@example.com"), sign_up(hive, "s@example.com")
        gig = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="0.49")).id
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=gig)).id

        with pytest.raises(AmountBelowMinimum, match=r"minimum charge of 0\.50 USD"):
            pay(hive, order, buyer)

        assert gateway.charges == []
        assert status(hive, order) is OrderStatus.CREATED
