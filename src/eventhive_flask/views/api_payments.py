"""``/api/payments``: pay for an order; ``/api/payments/webhooks/<provider>``: the provider's webhooks."""

from __future__ import annotations

from flask import Response, request

from eventhive_core import PayOrder, ReceivePaymentEvent
from eventhive_flask.auth import require_identity
from eventhive_flask.bodies import parse, read_body
from eventhive_flask.idempotency import idempotent
from eventhive_flask.responses import json_response
from eventhive_flask.schemas import PaymentIn, PaymentOut, WebhookOut
from eventhive_flask.state import current_hive
from eventhive_flask.views.blueprint import api


@api.post("/payments", endpoint="pay")
@idempotent
def pay() -> Response:
    """Charge the caller's order with a provider token.

    201 and the payment: ``succeeded`` (the order is then ``complete``), or ``pending`` with a
    ``clientSecret`` while the buyer must authenticate (3-D Secure); the webhook settles it.
    """
    identity = require_identity()
    body = parse(PaymentIn)
    view = current_hive.handle(PayOrder(order_id=body.order_id, actor_id=identity.user_id, token=body.token))
    return json_response(PaymentOut.from_view(view), 201)


@api.post("/payments/webhooks/<provider>", endpoint="payment_webhook")
def payment_webhook(provider: str) -> Response:
    """A payment provider reports what became of a charge; the signature is checked on the raw body.

    200 once the event is applied, was seen before, or concerns nothing EventHive knows; 400 for
    a missing, wrong or stale signature (nothing changes); 404 for another provider than the one
    configured; 5xx when storage or the provider fails, so the provider delivers it again.
    """
    payload = read_body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    outcome = current_hive.handle(ReceivePaymentEvent(provider=provider, payload=payload, headers=headers))
    return json_response(WebhookOut(outcome=outcome.value))


__all__ = ["pay", "payment_webhook"]
