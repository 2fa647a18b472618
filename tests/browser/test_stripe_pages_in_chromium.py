"""Paying by card on the order page with Stripe.js, in Chromium against a real ``eventhive serve``.

The real Stripe.js cannot load offline, so the server's ``EVENTHIVE_STRIPE_JS_URL`` points at the
Stripe.js stand-in that the project's Stripe stand-in serves (``/v3/``); the server's Stripe SDK
talks to the same stand-in. The stand-in's events reach the server as signed webhooks, posted
from a thread the way Stripe posts them, so 3-D Secure ends through the webhook as it does live.
"""

from __future__ import annotations

import re
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eventhive_core.testing.stripe_stand_in import STRIPE_JS_PATH, StripeStandIn

# The fixtures' types live in this folder's conftest.py, which is not importable as a module.
Server = PageCheck = Any

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None

pytestmark = pytest.mark.timeout(120)

PASSWORD = "browser-pass"
VISA, DECLINED, ASKS_3D_SECURE = "4242424242424242", "4000000000000002", "4000002760003184"


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeStandIn]:
    with StripeStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def stripe_server(serve_with: Callable[..., Server], stripe_api: StripeStandIn) -> Server:
    """The platform with the ``stripe`` provider, Stripe.js and Stripe's webhooks all on the stand-in."""
    running = serve_with(
        EVENTHIVE_PAYMENT_PROVIDER="stripe",
        EVENTHIVE_STRIPE_SECRET_KEY=stripe_api.api_key,
        EVENTHIVE_STRIPE_PUBLISHABLE_KEY=stripe_api.publishable_key,
        EVENTHIVE_STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        EVENTHIVE_STRIPE_API_BASE=stripe_api.url,
        EVENTHIVE_STRIPE_JS_URL=stripe_api.url + STRIPE_JS_PATH,
    )

    def post_webhook(event: dict[str, Any]) -> None:
        body, headers = stripe_api.webhook(event)
        request = urllib.request.Request(f"{running.url}/api/payments/webhooks/stripe", data=body, headers=headers)
        # Stripe posts after answering the request that caused the event: so does this thread.
        threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=10).read(), daemon=True).start()

    stripe_api.deliver_events(post_webhook)
    return running


def open_order(server: Server, new_context: Any) -> tuple[Any, str]:
    """A seller's ticket bought by a new buyer in the browser; return the buyer's page on the order."""
    seller = f"seller-{uuid.uuid4().hex[:10]}@example.com"
    server.api("POST", "/api/users/signup", {"email": seller, "password": PASSWORD})
    token = server.api("POST", "/api/users/tokens", {"email": seller, "password": PASSWORD})["token"]
    ticket = server.api("POST", "/api/tickets", {"title": f"Gig {uuid.uuid4().hex[:6]}", "price": 20}, token=token)
    page = new_context(phone=True).new_page()
    page.goto(f"{server.url}/auth/signup?next=/tickets/{ticket['id']}")
    page.get_by_label("Email Address").fill(f"buyer-{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign Up").click()
    page.get_by_role("button", name="Purchase").click()
    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]+$"))
    return page, page.url.rsplit("/", 1)[1]


def pay_with(page: Any, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def test_a_card_paid_in_stripes_field_completes_the_order(
    stripe_server: Server, stripe_api: StripeStandIn, new_context: Any, check: PageCheck
) -> None:
    page, order_id = open_order(stripe_server, new_context)
    expect(page.get_by_label("Card number")).to_be_visible()  # Stripe.js mounted its field
    check.look(page, "01-stripe-order-open")

    pay_with(page, VISA)

    expect(page.locator("[data-status]")).to_have_text("complete", timeout=15_000)
    expect(page.get_by_text("Paid: this order is complete.")).to_be_visible()
    charged = [pi for pi in stripe_api.payment_intents if pi["metadata"].get("order_id") == order_id]
    assert [(pi["status"], pi["amount"]) for pi in charged] == [("succeeded", 2000)]
    check.look(page, "02-stripe-order-complete")


def test_a_declined_card_shows_stripes_message_next_to_the_card_field(
    stripe_server: Server, stripe_api: StripeStandIn, new_context: Any, check: PageCheck
) -> None:
    page, order_id = open_order(stripe_server, new_context)

    pay_with(page, DECLINED)

    card_error = page.locator("#card-error")
    expect(card_error).to_have_text("Your card was declined.")
    expect(page.locator("[data-status]")).to_have_text("created")  # the page was not left
    check.look(page, "03-stripe-declined")
    page.get_by_label("Card number").fill(VISA)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("[data-status]")).to_have_text("complete", timeout=15_000)
    assert stripe_api.money_taken() >= 2000
    charged = [pi for pi in stripe_api.payment_intents if pi["metadata"].get("order_id") == order_id]
    assert [pi["status"] for pi in charged] == ["canceled", "succeeded"]


def test_3d_secure_runs_in_the_browser_and_the_webhook_completes_the_order(
    stripe_server: Server, stripe_api: StripeStandIn, new_context: Any, check: PageCheck
) -> None:
    page, order_id = open_order(stripe_server, new_context)

    pay_with(page, ASKS_3D_SECURE)

    challenge = page.get_by_role("dialog", name="3D Secure test page")
    expect(challenge).to_be_visible(timeout=15_000)
    check.look(page, "04-stripe-3ds-challenge")
    challenge.get_by_role("button", name="Complete authentication").click()
    # Nothing on the page pays: the stand-in's webhook completes the order, and the page sees it.
    expect(page.locator("[data-status]")).to_have_text("complete", timeout=20_000)
    charged = [pi for pi in stripe_api.payment_intents if pi["metadata"].get("order_id") == order_id]
    assert [pi["status"] for pi in charged] == ["succeeded"]
    check.look(page, "05-stripe-3ds-complete")


def test_a_failed_3d_secure_shows_why_and_the_order_can_be_paid_again(stripe_server: Server, new_context: Any) -> None:
    page, _ = open_order(stripe_server, new_context)
    pay_with(page, ASKS_3D_SECURE)

    page.get_by_role("dialog", name="3D Secure test page").get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#card-error")).to_contain_text("unable to authenticate", timeout=15_000)
    expect(page.get_by_role("button", name=re.compile(r"^Pay "))).to_be_enabled(timeout=15_000)
    pay_with(page, VISA)
    expect(page.locator("[data-status]")).to_have_text("complete", timeout=15_000)
