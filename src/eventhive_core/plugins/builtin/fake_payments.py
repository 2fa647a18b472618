"""Built-in plugin: the deterministic fake payment provider, ``EVENTHIVE_PAYMENT_PROVIDER=fake`` (the default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.plugins.factories import RegisterPaymentProvider
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.settings import HiveSettings


def make_fake_gateway(settings: HiveSettings, options: Mapping[str, Any]) -> PaymentGateway:
    """Build the fake gateway (``tok_visa`` pays, ``tok_chargeDeclined`` is declined)."""
    from eventhive_core.adapters.fake_payments import FakePaymentGateway

    return FakePaymentGateway()


@hookimpl
def eventhive_register_payment_providers(register: RegisterPaymentProvider) -> None:
    """Register ``fake``."""
    register("fake", make_fake_gateway)
