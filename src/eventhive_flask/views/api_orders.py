"""``/api/orders``: place, list, show and cancel orders."""

from __future__ import annotations

from flask import Response, request

from eventhive_core import CancelOrder, PlaceOrder, RefundOrder, ReplayedRefusal
from eventhive_flask.auth import require_identity
from eventhive_flask.bodies import parse
from eventhive_flask.idempotency import HEADER, REPLAYED_HEADER
from eventhive_flask.responses import empty_response, json_list, json_response, json_text_response, page_arguments
from eventhive_flask.schemas import OrderIn, OrderOut
from eventhive_flask.state import current_hive
from eventhive_flask.views.blueprint import api


@api.post("/orders", endpoint="place_order")
def place_order() -> Response:
    """Reserve units of a ticket: 201 and the order (``status: created``, ``expiresAt`` in the payment window).

    The ``Idempotency-Key`` header goes to the core, which records it with the order in the same
    transaction: the same key again answers with that order (201) or with the first refusal,
    marked ``Idempotent-Replayed: true``.
    """
    identity = require_identity()
    body = parse(OrderIn)
    command = PlaceOrder(
        buyer_id=identity.user_id,
        ticket_id=body.ticket_id,
        quantity=body.quantity,
        idempotency_key=request.headers.get(HEADER),
    )
    try:
        view = current_hive.handle(command)
    except ReplayedRefusal as refusal:
        # The core keeps the refusal's body as it made it, without the edge's closing newline.
        return _replayed(json_text_response(refusal.body, refusal.status_code))
    response = json_response(OrderOut.from_view(view), 201)
    return _replayed(response) if view.replayed else response


def _replayed(response: Response) -> Response:
    response.headers[REPLAYED_HEADER] = "true"
    return response


@api.get("/orders", endpoint="list_orders")
def list_orders() -> Response:
    """The caller's orders in any status, oldest first."""
    identity = require_identity()
    limit, cursor = page_arguments()
    page = current_hive.queries.orders_for_user(identity.user_id, limit, cursor)
    return json_list((OrderOut.from_view(view) for view in page.items), page.next_cursor)


@api.get("/orders/<order_id>", endpoint="show_order")
def show_order(order_id: str) -> Response:
    """One of the caller's orders; 404 unknown or malformed, 401 someone else's."""
    identity = require_identity()
    return json_response(OrderOut.from_view(current_hive.queries.order(order_id, viewer_id=identity.user_id)))


@api.delete("/orders/<order_id>", endpoint="cancel_order")
def cancel_order(order_id: str) -> Response:
    """Cancel one of the caller's unpaid orders: 204 without a body."""
    identity = require_identity()
    current_hive.handle(CancelOrder(order_id=order_id, actor_id=identity.user_id))
    return empty_response(204)


@api.post("/orders/<order_id>/refund", endpoint="refund_order")
def refund_order(order_id: str) -> Response:
    """The ticket's seller gives the money back: 200 and the order, now ``cancelled`` (an addition).

    Only the owner of the order's ticket may refund (401 for anyone else), and only a complete
    order (400 otherwise). The units are free again. The body, if any, is not read.
    """
    identity = require_identity()
    view = current_hive.handle(RefundOrder(order_id=order_id, actor_id=identity.user_id))
    return json_response(OrderOut.from_view(view))
