from __future__ import annotations

import threading

import pytest

from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import ChargeOutcome, ChargeResult, PaymentGateway, PaymentProviderError

PRICE = Money(2500, "USD")
META = {"order_id": "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"}


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


def pay(gateway: FakePaymentGateway, token: str, key: str = "order:1:pay", amount: Money = PRICE) -> ChargeResult:
    return gateway.charge(amount=amount, token=token, idempotency_key=key, metadata=META)


def test_the_fake_gateway_satisfies_the_port() -> None:
    gateway: PaymentGateway = FakePaymentGateway()

    assert gateway.name == "fake"
    assert FakePaymentGateway(name="demo").name == "demo"


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard", "tok_amex", "pm_card_visa"])
def test_a_good_card_is_charged(gateway: FakePaymentGateway, token: str) -> None:
    result = pay(gateway, token)

    assert result.outcome is ChargeOutcome.SUCCEEDED
    assert result.provider_ref is not None
    assert result.provider_ref.startswith("fake_ch_")
    assert result.message is None
    assert result.client_secret is None
    (charge,) = gateway.charges
    assert (charge.amount_minor, charge.currency, charge.token, charge.idempotency_key) == (
        2500,
        "USD",
        token,
        "order:1:pay",
    )
    assert dict(charge.metadata) == META
    assert charge.provider_ref == result.provider_ref


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("tok_chargeDeclined", "Your card was declined."),
        ("tok_chargeDeclinedInsufficientFunds", "Your card has insufficient funds."),
        ("tok_chargeDeclinedExpiredCard", "Your card has expired."),
        ("pm_card_chargeDeclined", "Your card was declined."),
    ],
)
def test_a_declining_card_fails_with_stripes_message(gateway: FakePaymentGateway, token: str, message: str) -> None:
    result = pay(gateway, token)

    assert result.outcome is ChargeOutcome.FAILED
    assert result.message == message
    assert gateway.charges[0].outcome is ChargeOutcome.FAILED


def test_a_card_needing_3d_secure_asks_for_action_with_a_client_secret(gateway: FakePaymentGateway) -> None:
    result = pay(gateway, "tok_threeDSecure2Required")

    assert result.outcome is ChargeOutcome.REQUIRES_ACTION
    assert result.provider_ref is not None
    assert result.client_secret is not None
    assert result.client_secret.startswith(f"{result.provider_ref}_secret_")


def test_completing_the_action_settles_the_charge(gateway: FakePaymentGateway) -> None:
    ref = pay(gateway, "tok_threeDSecure2Required").provider_ref
    assert ref is not None

    settled = gateway.complete_action(ref)

    assert settled == ChargeResult(ChargeOutcome.SUCCEEDED, provider_ref=ref)
    assert gateway.charges[0].outcome is ChargeOutcome.SUCCEEDED
    with pytest.raises(ValueError, match="not requires_action"):
        gateway.complete_action(ref)


def test_a_failed_authentication_fails_the_charge(gateway: FakePaymentGateway) -> None:
    ref = pay(gateway, "tok_threeDSecure2Required").provider_ref
    assert ref is not None

    assert gateway.complete_action(ref, succeed=False).outcome is ChargeOutcome.FAILED
    assert gateway.charges[0].outcome is ChargeOutcome.FAILED


def test_an_unreachable_provider_raises_and_records_nothing(gateway: FakePaymentGateway) -> None:
    with pytest.raises(PaymentProviderError):
        pay(gateway, "tok_unreachable")

    assert gateway.charges == []
    # The key is still free: a retry with a working card goes through.
    assert pay(gateway, "tok_visa").outcome is ChargeOutcome.SUCCEEDED


@pytest.mark.parametrize("token", ["", "4242424242424242", "card_123", "pm_unknown"])
def test_an_unknown_payment_method_fails(gateway: FakePaymentGateway, token: str) -> None:
    result = pay(gateway, token)

    assert result.outcome is ChargeOutcome.FAILED
    assert result.message


def test_repeating_a_charge_under_one_key_charges_once_and_answers_the_same(gateway: FakePaymentGateway) -> None:
    first = pay(gateway, "tok_visa")
    second = pay(gateway, "tok_visa")

    assert second == first
    assert len(gateway.charges) == 1


def test_a_repeated_decline_is_replayed_not_retried(gateway: FakePaymentGateway) -> None:
    first = pay(gateway, "tok_chargeDeclined")

    assert pay(gateway, "tok_chargeDeclined") == first
    assert len(gateway.charges) == 1


def test_a_repeated_3d_secure_charge_answers_where_the_charge_stands_now(gateway: FakePaymentGateway) -> None:
    first = pay(gateway, "tok_threeDSecure2Required")
    assert first.provider_ref is not None
    assert pay(gateway, "tok_threeDSecure2Required") == first
    gateway.complete_action(first.provider_ref)

    assert pay(gateway, "tok_threeDSecure2Required") == ChargeResult(
        ChargeOutcome.SUCCEEDED, provider_ref=first.provider_ref
    )
    assert len(gateway.charges) == 1


@pytest.mark.parametrize(
    ("token", "amount", "metadata"),
    [
        ("tok_visa", Money(2600, "USD"), META),
        ("tok_visa", Money(2500, "EUR"), META),
        ("tok_mastercard", PRICE, META),
        ("tok_visa", PRICE, {"order_id": "another"}),
    ],
)
def test_reusing_a_key_for_a_different_charge_is_refused(
    gateway: FakePaymentGateway, token: str, amount: Money, metadata: dict[str, str]
) -> None:
    pay(gateway, "tok_visa")

    with pytest.raises(ValueError, match="idempotent"):
        gateway.charge(amount=amount, token=token, idempotency_key="order:1:pay", metadata=metadata)
    assert len(gateway.charges) == 1


def test_different_keys_are_different_charges(gateway: FakePaymentGateway) -> None:
    first = pay(gateway, "tok_visa", key="a")
    second = pay(gateway, "tok_visa", key="b")

    assert first.provider_ref != second.provider_ref
    assert [c.idempotency_key for c in gateway.charges] == ["a", "b"]


@pytest.mark.parametrize("amount", [Money(0), Money(-100)])
def test_a_charge_must_be_positive(gateway: FakePaymentGateway, amount: Money) -> None:
    with pytest.raises(ValueError, match="positive"):
        pay(gateway, "tok_visa", amount=amount)


def test_a_charge_needs_an_idempotency_key(gateway: FakePaymentGateway) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        pay(gateway, "tok_visa", key="")


def test_the_recorded_metadata_is_a_snapshot(gateway: FakePaymentGateway) -> None:
    metadata = dict(META)
    gateway.charge(amount=PRICE, token="tok_visa", idempotency_key="k", metadata=metadata)
    metadata["order_id"] = "changed"

    assert gateway.charges[0].metadata["order_id"] == META["order_id"]


def test_a_succeeded_charge_is_refunded_once_per_key(gateway: FakePaymentGateway) -> None:
    ref = pay(gateway, "tok_visa").provider_ref
    assert ref is not None

    refund_id = gateway.refund(provider_ref=ref, amount=PRICE, idempotency_key="payment:1:refund")
    again = gateway.refund(provider_ref=ref, amount=PRICE, idempotency_key="payment:1:refund")

    assert refund_id.startswith("fake_re_")
    assert again == refund_id
    (refund,) = gateway.refunds
    assert (refund.provider_ref, refund.amount, refund.idempotency_key) == (ref, PRICE, "payment:1:refund")


def test_a_charge_already_refunded_under_another_key_is_not_refunded_again(gateway: FakePaymentGateway) -> None:
    ref = pay(gateway, "tok_visa").provider_ref
    assert ref is not None
    first = gateway.refund(provider_ref=ref, amount=PRICE, idempotency_key="first")

    assert gateway.refund(provider_ref=ref, amount=PRICE, idempotency_key="second") == first
    assert len(gateway.refunds) == 1
    assert gateway.money_taken() == 0


def test_a_refund_key_cannot_be_reused_for_another_charge(gateway: FakePaymentGateway) -> None:
    first = pay(gateway, "tok_visa", key="a").provider_ref
    second = pay(gateway, "tok_visa", key="b").provider_ref
    assert first is not None
    assert second is not None
    gateway.refund(provider_ref=first, amount=PRICE, idempotency_key="refund")

    with pytest.raises(ValueError, match="idempotent"):
        gateway.refund(provider_ref=second, amount=PRICE, idempotency_key="refund")


def test_only_a_succeeded_charge_can_be_refunded_and_only_in_full(gateway: FakePaymentGateway) -> None:
    declined = pay(gateway, "tok_chargeDeclined", key="a").provider_ref
    paid = pay(gateway, "tok_visa", key="b").provider_ref
    assert declined is not None
    assert paid is not None

    with pytest.raises(ValueError, match="only a succeeded charge"):
        gateway.refund(provider_ref=declined, amount=PRICE, idempotency_key="r1")
    with pytest.raises(ValueError, match="in full"):
        gateway.refund(provider_ref=paid, amount=Money(100), idempotency_key="r2")
    with pytest.raises(ValueError, match="No such charge"):
        gateway.refund(provider_ref="fake_ch_unknown", amount=PRICE, idempotency_key="r3")
    assert gateway.refunds == []


def test_concurrent_charges_under_one_key_record_one_charge(gateway: FakePaymentGateway) -> None:
    results: list[ChargeResult] = []
    barrier = threading.Barrier(8)

    def buyer() -> None:
        barrier.wait()
        results.append(pay(gateway, "tok_visa"))

    threads = [threading.Thread(target=buyer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert len(results) == 8
    assert len({r.provider_ref for r in results}) == 1
    assert len(gateway.charges) == 1


def test_the_lists_handed_out_are_copies(gateway: FakePaymentGateway) -> None:
    pay(gateway, "tok_visa")
    gateway.charges.clear()

    assert len(gateway.charges) == 1
