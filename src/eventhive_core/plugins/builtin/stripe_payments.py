"""Built-in plugin: Stripe PaymentIntents, ``EVENTHIVE_PAYMENT_PROVIDER=stripe``.

Needs the ``stripe`` extra (``pip install "eventhive-tickets[stripe]"``), ``EVENTHIVE_STRIPE_SECRET_KEY``
and ``EVENTHIVE_STRIPE_WEBHOOK_SECRET``; a missing one fails at start, naming the variable, never
at the first payment. ``EVENTHIVE_PAYMENT_OPTIONS`` may hold ``{"timeout": 30,
"max_network_retries": 2, "automatic_payment_methods": true}`` (the last one off only for
``localstripe``, which refuses that parameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.factories import RegisterPaymentProvider
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.settings import HiveSettings

_OPTIONS = frozenset({"timeout", "max_network_retries", "automatic_payment_methods"})


def make_stripe_gateway(settings: HiveSettings, options: Mapping[str, Any]) -> PaymentGateway:
    """Build the Stripe gateway from the ``EVENTHIVE_STRIPE_*`` settings.

    Raises:
        ConfigurationError: A key is missing, an option is unknown, or the ``stripe`` package is not installed.
    """
    for name, value in (
        ("EVENTHIVE_STRIPE_SECRET_KEY", settings.stripe_secret_key),
        ("EVENTHIVE_STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
    ):
        if value is None or not value.get_secret_value().strip():
            raise ConfigurationError(
                f"EVENTHIVE_PAYMENT_PROVIDER=stripe needs {name}; set it (see docs/payments/stripe.md)."
            )
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"Unknown Stripe payment option(s) {', '.join(unknown)}; known: {', '.join(sorted(_OPTIONS))}."
        )
    try:
        from eventhive_core.adapters.stripe_gateway import StripeGateway
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"EVENTHIVE_PAYMENT_PROVIDER=stripe needs the stripe package ({exc.name}): "
            'pip install "eventhive-tickets[stripe]"'
        ) from exc
    assert settings.stripe_secret_key is not None
    assert settings.stripe_webhook_secret is not None
    return StripeGateway(
        secret_key=settings.stripe_secret_key.get_secret_value(),
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
        api_base=settings.stripe_api_base or None,
        timeout=float(options.get("timeout", 30.0)),
        max_network_retries=int(options.get("max_network_retries", 2)),
        automatic_payment_methods=bool(options.get("automatic_payment_methods", True)),
    )


@hookimpl
def eventhive_register_payment_providers(register: RegisterPaymentProvider) -> None:
    """Register ``stripe``."""
    register("stripe", make_stripe_gateway)
