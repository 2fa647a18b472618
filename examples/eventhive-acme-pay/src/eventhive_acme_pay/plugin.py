"""The plugin module the ``eventhive`` entry point names: it registers payment provider ``acme``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core import HiveSettings, hookimpl
from eventhive_core.plugins.factories import RegisterPaymentProvider
from eventhive_core.ports.payments import PaymentGateway


def make_acme_gateway(settings: HiveSettings, options: Mapping[str, Any]) -> PaymentGateway:
    """Build the gateway; ``options`` is ``EVENTHIVE_PAYMENT_OPTIONS``."""
    # Imported here so that merely listing plugins never pays for the gateway's imports.
    from eventhive_acme_pay.gateway import AcmeGateway

    return AcmeGateway(
        merchant_id=str(options.get("merchant_id", "demo")),
        webhook_secret=str(options.get("webhook_secret", "acme-demo-secret")),
    )


@hookimpl
def eventhive_register_payment_providers(register: RegisterPaymentProvider) -> None:
    """Make ``EVENTHIVE_PAYMENT_PROVIDER=acme`` available."""
    register("acme", make_acme_gateway)
