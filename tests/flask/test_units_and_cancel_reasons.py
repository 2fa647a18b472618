"""A ticket's held and sold units and an order's cancel reason, as the JSON API reports them.

These fields are additions to the original's bodies: the web client of a split deployment reads
them to show a seller what happened to their units and a buyer why an order was cancelled.
"""

from __future__ import annotations

from typing import Any

from eventhive_flask.testing import ApiHarness as Api


def units(api: Api, ticket_id: str) -> tuple[int, int, int]:
    body: dict[str, Any] = api.client().get(f"/api/tickets/{ticket_id}").get_json()
    return body["available"], body["held"], body["sold"]


def test_a_tickets_units_move_from_free_to_held_to_sold_and_back_to_free(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, capacity=5)
    buyer = api.user()

    assert (ticket["available"], ticket["held"], ticket["sold"]) == (5, 0, 0)
    paid = api.order(buyer, ticket["id"], quantity=2)
    held = api.order(buyer, ticket["id"], quantity=1)
    assert units(api, ticket["id"]) == (2, 3, 0)

    assert buyer.post("/api/payments", json={"orderId": paid["id"], "token": "tok_visa"}).status_code == 201
    assert units(api, ticket["id"]) == (2, 1, 2)

    assert buyer.delete(f"/api/orders/{held['id']}").status_code == 204
    assert units(api, ticket["id"]) == (3, 0, 2)
    (mine,) = seller.get("/api/tickets?owner=me").get_json()
    assert (mine["available"], mine["held"], mine["sold"]) == (3, 0, 2)


def test_an_order_has_no_cancel_reason_until_it_is_cancelled(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])

    assert order["cancelReason"] is None
    assert buyer.post("/api/payments", json={"orderId": order["id"], "token": "tok_visa"}).status_code == 201
    assert buyer.get(f"/api/orders/{order['id']}").get_json()["cancelReason"] is None


def test_a_cancelled_order_says_whether_the_buyer_cancelled_it_or_its_time_ran_out(api: Api) -> None:
    buyer = api.user()
    cancelled = api.order(buyer, api.ticket(api.user())["id"])
    lapsed = api.order(buyer, api.ticket(api.user())["id"])
    assert buyer.delete(f"/api/orders/{cancelled['id']}").status_code == 204
    api.clock.advance(seconds=61)

    shown_before_the_sweep = buyer.get(f"/api/orders/{lapsed['id']}").get_json()
    assert api.hive.sweep() == 1

    reasons = {order["id"]: (order["status"], order["cancelReason"]) for order in buyer.get("/api/orders").get_json()}
    assert reasons == {cancelled["id"]: ("cancelled", "buyer"), lapsed["id"]: ("cancelled", "expired")}
    assert (shown_before_the_sweep["status"], shown_before_the_sweep["cancelReason"]) == ("cancelled", "expired")


def test_an_order_the_seller_refunded_is_cancelled_as_refunded_and_its_unit_is_free_again(api: Api) -> None:
    seller, buyer = api.user(), api.user()
    ticket = api.ticket(seller)
    order = api.order(buyer, ticket["id"])
    assert buyer.post("/api/payments", json={"orderId": order["id"], "token": "tok_visa"}).status_code == 201

    assert seller.post(f"/api/orders/{order['id']}/refund", json={}).status_code == 200

    shown = buyer.get(f"/api/orders/{order['id']}").get_json()
    assert (shown["status"], shown["cancelReason"]) == ("cancelled", "refunded")
    assert units(api, ticket["id"]) == (1, 0, 0)
