"""The payment gateway contract, run against every provider EventHive ships and the example plugin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.testing.payment_contract import PaymentGatewayContract

ACME_SOURCE = Path(__file__).resolve().parents[2] / "examples" / "eventhive-acme-pay" / "src"


class TestFakeGateway(PaymentGatewayContract):
    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return FakePaymentGateway()


class TestStripeGatewayOnTheStandIn(PaymentGatewayContract):
    good_token = "pm_card_visa"
    declined_token = "pm_card_chargeDeclined"

    @pytest.fixture
    def gateway(self, stripe_gateway: Any) -> PaymentGateway:
        return stripe_gateway  # type: ignore[no-any-return]


class TestStripeGatewayWithCheckoutTokens(TestStripeGatewayOnTheStandIn):
    good_token = "tok_visa"
    declined_token = "tok_chargeDeclined"


class TestAcmeExamplePlugin(PaymentGatewayContract):
    good_token = "acme_ok_visa"
    declined_token = "acme_declined"

    @pytest.fixture
    def gateway(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[PaymentGateway]:
        monkeypatch.syspath_prepend(str(ACME_SOURCE))
        from eventhive_acme_pay.gateway import AcmeGateway

        yield AcmeGateway(merchant_id="test")
        sys.modules.pop("eventhive_acme_pay.gateway", None)
        sys.modules.pop("eventhive_acme_pay", None)
