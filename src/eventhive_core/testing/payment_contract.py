"""The payment gateway contract: what every payment provider must do, as a pytest class to subclass.

A provider plugin proves itself by subclassing :class:`PaymentGatewayContract` and providing a
``gateway`` fixture, plus the tokens its provider understands::

    from eventhive_core.testing.payment_contract import PaymentGatewayContract

    class TestAcmeGateway(PaymentGatewayContract):
        good_token = "acme_ok_visa"
        declined_token = "acme_declined"

        @pytest.fixture
        def gateway(self):
            return AcmeGateway(merchant_id="test")

The payments service relies on each of these: a repeated key never charges twice, a decline is
an answer rather than an error, a cancelled attempt reports money it had taken, a refund happens
once whichever key asks for it, and a webhook that cannot be verified is refused.
"""

# The test methods are named as sentences; those names are their documentation.
# ruff: noqa: D102

from __future__ import annotations

from typing import ClassVar

import pytest

from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import ChargeOutcome, InvalidWebhook, PaymentGateway

#: The amount the suite charges: above every provider's minimum in USD.
AMOUNT = Money(2500, "USD")


class PaymentGatewayContract:
    """Every promise of :class:`~eventhive_core.ports.payments.PaymentGateway`.

    Attributes:
        good_token: A token the provider charges successfully.
        declined_token: A token the provider declines.
    """

    good_token: ClassVar[str] = "tok_visa"  # noqa: S105 - a test card, not a secret
    declined_token: ClassVar[str] = "tok_chargeDeclined"  # noqa: S105 - a test card

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        """A gateway talking to a fresh provider account: subclasses must provide it."""
        pytest.fail("Subclass the contract suite and define a `gateway` fixture returning a PaymentGateway")

    def charge(self, gateway: PaymentGateway, token: str, key: str) -> object:
        return gateway.charge(amount=AMOUNT, token=token, idempotency_key=key, metadata={"order_id": key})

    def test_a_good_card_is_charged_and_named_by_a_reference(self, gateway: PaymentGateway) -> None:
        result = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-1", metadata={})
        assert result.outcome is ChargeOutcome.SUCCEEDED
        assert result.provider_ref

    def test_the_same_key_answers_for_the_same_charge(self, gateway: PaymentGateway) -> None:
        first = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-2", metadata={})
        again = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-2", metadata={})
        other = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-3", metadata={})
        assert (again.outcome, again.provider_ref) == (first.outcome, first.provider_ref)
        assert other.provider_ref != first.provider_ref

    def test_a_decline_is_an_answer_with_a_message_for_the_buyer(self, gateway: PaymentGateway) -> None:
        result = gateway.charge(amount=AMOUNT, token=self.declined_token, idempotency_key="c-4", metadata={})
        assert result.outcome is ChargeOutcome.FAILED
        assert result.message

    def test_cancelling_a_succeeded_charge_reports_the_money_taken(self, gateway: PaymentGateway) -> None:
        paid = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-5", metadata={})
        result = gateway.cancel(provider_ref=paid.provider_ref, idempotency_key="c-5")
        assert result.outcome is ChargeOutcome.SUCCEEDED
        assert result.provider_ref == paid.provider_ref

    def test_cancelling_an_attempt_that_never_reached_the_provider_is_a_failed_attempt(
        self, gateway: PaymentGateway
    ) -> None:
        assert gateway.cancel(provider_ref=None, idempotency_key="never-sent").outcome is ChargeOutcome.FAILED

    def test_a_charge_is_refunded_once_whichever_key_asks(self, gateway: PaymentGateway) -> None:
        paid = gateway.charge(amount=AMOUNT, token=self.good_token, idempotency_key="c-6", metadata={})
        assert paid.provider_ref is not None
        refund = gateway.refund(provider_ref=paid.provider_ref, amount=AMOUNT, idempotency_key="r-6")
        assert refund
        assert gateway.refund(provider_ref=paid.provider_ref, amount=AMOUNT, idempotency_key="r-6") == refund
        assert gateway.refund(provider_ref=paid.provider_ref, amount=AMOUNT, idempotency_key="r-6b") == refund

    def test_the_minimum_charge_is_a_positive_number_of_minor_units(self, gateway: PaymentGateway) -> None:
        assert gateway.minimum_charge("USD") >= 1
        assert gateway.minimum_charge("usd") == gateway.minimum_charge("USD")

    @pytest.mark.parametrize(
        ("payload", "headers"),
        [(b"", {}), (b"{}", {}), (b'{"id": "evt_1"}', {"stripe-signature": "t=1,v1=00", "x-signature": "00"})],
    )
    def test_a_webhook_that_cannot_be_verified_is_refused(
        self, gateway: PaymentGateway, payload: bytes, headers: dict[str, str]
    ) -> None:
        with pytest.raises(InvalidWebhook):
            gateway.parse_webhook(payload, headers)


__all__ = ["AMOUNT", "PaymentGatewayContract"]
