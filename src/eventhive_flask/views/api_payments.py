"""``/api/payments``: pay for an order."""

from __future__ import annotations

from flask import Response

from eventhive_core import PayOrder
from eventhive_flask.auth import require_identity
from eventhive_flask.bodies import parse
from eventhive_flask.idempotency import idempotent
from eventhive_flask.responses import json_response
from eventhive_flask.schemas import PaymentIn, PaymentOut
from eventhive_flask.state import current_hive
from eventhive_flask.views import api


@api.post("/payments", endpoint="pay")
@idempotent
def pay() -> Response:
    """Charge the caller's order with a provider token: 201 and the payment (the order is then ``complete``)."""
    identity = require_identity()
    body = parse(PaymentIn)
    view = current_hive.handle(PayOrder(order_id=body.order_id, actor_id=identity.user_id, token=body.token))
    return json_response(PaymentOut.from_view(view), 201)
