"""The order page with Stripe, its Content-Security-Policy, and the Purchase button clicked twice.

Through Flask's test client, so these run everywhere; tests/browser/test_stripe_pages_in_chromium.py
drives the same pages in Chromium.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventhive_core import ConfigurationError
from eventhive_core.testing.fakes import FrozenClock
from eventhive_flask.extension import EventHive
from eventhive_flask.testing import TEST_PASSWORD, make_test_app
from eventhive_flask.views.page_forms import CSRF_FIELD, FORM_KEY_FIELD

STRIPE = {
    "EVENTHIVE_PAYMENT_PROVIDER": "stripe",
    "EVENTHIVE_STRIPE_SECRET_KEY": "sk_test_pages",
    "EVENTHIVE_STRIPE_PUBLISHABLE_KEY": "pk_test_pages",
    "EVENTHIVE_STRIPE_WEBHOOK_SECRET": "whsec_pages",
}


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} field"
    return found.group(1)


def signed_up(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/auth/signup").get_data(as_text=True)
    response = client.post(
        "/auth/signup", data={CSRF_FIELD: hidden(page, CSRF_FIELD), "email": email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 303
    return client


def ticket_of(seller: FlaskClient, capacity: int = 3) -> str:
    created = seller.post("/api/tickets", json={"title": "Festival", "price": 40, "capacity": capacity})
    assert created.status_code == 201
    return str(created.get_json()["id"])


@pytest.fixture
def app() -> Iterator[Flask]:
    app = make_test_app(clock=FrozenClock())
    yield app
    EventHive.hive_for(app).close()


@pytest.fixture
def stripe_app() -> Iterator[Flask]:
    app = make_test_app(clock=FrozenClock(), **STRIPE)
    yield app
    EventHive.hive_for(app).close()


# --- one order per rendered Purchase form ---------------------------------------------------------


def test_submitting_one_rendered_purchase_form_twice_places_one_order(app: Flask) -> None:
    ticket_id = ticket_of(signed_up(app, "seller@example.com"))
    buyer = signed_up(app, "buyer@example.com")
    form = buyer.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    fields = {CSRF_FIELD: hidden(form, CSRF_FIELD), FORM_KEY_FIELD: hidden(form, FORM_KEY_FIELD), "quantity": "1"}

    first = buyer.post(f"/tickets/{ticket_id}", data=fields)
    second = buyer.post(f"/tickets/{ticket_id}", data=fields)

    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]  # both land on the one order
    assert len(buyer.get("/api/orders").get_json()) == 1
    assert buyer.get(f"/api/tickets/{ticket_id}").get_json()["available"] == 2


def test_a_double_click_racing_itself_places_one_order(app: Flask) -> None:
    ticket_id = ticket_of(signed_up(app, "seller@example.com"))
    buyer = signed_up(app, "buyer@example.com")
    form = buyer.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    fields = {CSRF_FIELD: hidden(form, CSRF_FIELD), FORM_KEY_FIELD: hidden(form, FORM_KEY_FIELD), "quantity": "2"}
    # Both clicks come from the same browser: its token and CSRF cookies.
    cookies = {name: buyer.get_cookie(name).value for name in ("eventhive", "eventhive_csrf")}  # type: ignore[union-attr]
    answers: list[Any] = []
    start = threading.Barrier(2)

    def click() -> None:
        tab = app.test_client()
        for name, value in cookies.items():
            tab.set_cookie(name, value)
        start.wait()
        answers.append(tab.post(f"/tickets/{ticket_id}", data=fields))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(10)

    assert [a.status_code for a in answers] == [303, 303]
    assert len({a.headers["Location"] for a in answers}) == 1
    assert [o["quantity"] for o in buyer.get("/api/orders").get_json()] == [2]


def test_a_purchase_form_refused_for_its_values_can_be_fixed_and_sent_again(app: Flask) -> None:
    ticket_id = ticket_of(signed_up(app, "seller@example.com"))
    buyer = signed_up(app, "buyer@example.com")
    form = buyer.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    fields = {CSRF_FIELD: hidden(form, CSRF_FIELD), FORM_KEY_FIELD: hidden(form, FORM_KEY_FIELD)}

    too_many = buyer.post(f"/tickets/{ticket_id}", data={**fields, "quantity": "4"})
    again = buyer.post(f"/tickets/{ticket_id}", data={**fields, "quantity": "4"})
    # The page shown with the refusal is a new rendering of the form, with a key of its own.
    shown = too_many.get_data(as_text=True)
    fixed = buyer.post(
        f"/tickets/{ticket_id}",
        data={CSRF_FIELD: hidden(shown, CSRF_FIELD), FORM_KEY_FIELD: hidden(shown, FORM_KEY_FIELD), "quantity": "3"},
    )

    assert (too_many.status_code, again.status_code) == (400, 400)
    assert hidden(shown, FORM_KEY_FIELD) != fields[FORM_KEY_FIELD]
    assert fixed.status_code == 303
    assert [o["quantity"] for o in buyer.get("/api/orders").get_json()] == [3]


def test_each_rendering_of_the_purchase_form_has_its_own_key(app: Flask) -> None:
    ticket_id = ticket_of(signed_up(app, "seller@example.com"))
    buyer = signed_up(app, "buyer@example.com")

    keys = {hidden(buyer.get(f"/tickets/{ticket_id}").get_data(as_text=True), FORM_KEY_FIELD) for _ in range(3)}

    assert len(keys) == 3


# --- the order page with each provider ------------------------------------------------------------


def order_page(app: Flask) -> Any:
    ticket_id = ticket_of(signed_up(app, "seller@example.com"))
    buyer = signed_up(app, "buyer@example.com")
    order = buyer.post("/api/orders", json={"ticketId": ticket_id}).get_json()
    return buyer.get(f"/orders/{order['id']}")


def directives(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in policy.split(";")) if part}


def test_with_the_fake_provider_the_order_page_runs_only_our_own_scripts(app: Flask) -> None:
    response = order_page(app)
    page = unescape(response.get_data(as_text=True))

    policy = directives(response)
    assert (policy["script-src"], policy["connect-src"], policy["frame-src"]) == ("'self'", "'self'", "'none'")
    assert "Visa ending 4242 (pays)" in page
    assert "data-stripe-pay" not in page
    assert "stripe" not in response.headers["Content-Security-Policy"]


def test_with_stripe_the_order_page_admits_stripes_origins_and_loads_stripe_js(stripe_app: Flask) -> None:
    response = order_page(stripe_app)
    page = unescape(response.get_data(as_text=True))

    policy = directives(response)
    assert policy["script-src"] == "'self' https://js.stripe.com"
    assert policy["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert policy["connect-src"] == "'self' https://api.stripe.com"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert '<script src="https://js.stripe.com/v3/"></script>' in page
    assert 'data-publishable-key="pk_test_pages"' in page
    assert "Visa ending 4242" not in page
    # Other pages keep the strict policy: only the page that loads Stripe.js lets it run.
    assert directives(stripe_app.test_client().get("/auth/signin"))["script-src"] == "'self'"


def test_a_stripe_js_stand_in_elsewhere_gets_its_own_origin_in_the_policy() -> None:
    app = make_test_app(clock=FrozenClock(), EVENTHIVE_STRIPE_JS_URL="http://127.0.0.1:8420/v3/", **STRIPE)
    try:
        policy = directives(order_page(app))
    finally:
        EventHive.hive_for(app).close()

    origin = "http://127.0.0.1:8420"
    assert (policy["script-src"], policy["frame-src"], policy["connect-src"]) == (
        f"'self' {origin}",
        origin,
        f"'self' {origin}",
    )


def test_stripe_pages_without_a_publishable_key_fail_at_start_but_the_api_alone_does_not() -> None:
    without = {k: v for k, v in STRIPE.items() if k != "EVENTHIVE_STRIPE_PUBLISHABLE_KEY"}

    with pytest.raises(ConfigurationError, match="EVENTHIVE_STRIPE_PUBLISHABLE_KEY"):
        make_test_app(**without)
    api_only = make_test_app(EVENTHIVE_PAGES=False, **without)
    EventHive.hive_for(api_only).close()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "js.stripe.com/v3/", "https://", "https://x.test/ v3"])
def test_a_stripe_js_url_that_is_not_a_web_address_fails_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError, match="stripe_js_url"):
        make_test_app(EVENTHIVE_STRIPE_JS_URL=url, **STRIPE)
