"""The five-services example's web pages in Chromium, through its front alone.

The pages come from ``eventhive service client``, which renders them by calling the JSON API
through the front; the browser sees one address. A seller lists a ticket without JavaScript; a
buyer on a phone finds it, signs up, buys, watches the countdown and pays; the order completes,
the ticket leaves the listing and the seller sees the unit sold. Another buyer's 2 s hold lapses
on its page.

The services learn of each other's changes over NATS, a delivery later: where a step needs what
another service has not heard yet (the orders service a new ticket, the payments service a new
order), the page shows the API's refusal and the buyer tries again, as a person would, and the
test does the same within a bound.

Without Chromium, Playwright, PostgreSQL, NATS, nginx or honcho the test skips with the reason,
and fails under ``CI=true``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ...browser.conftest import PageCheck
from ...browser.test_pages_in_chromium import email_for, header, sign_up_on_the_page
from ..conftest import wait_until
from .nats_example import Example, wait_for_the_front

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixtures skip (or fail under CI=true) with the reason
    expect = None

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]

#: How long a step may wait for a service to hear of another's change.
CROSSING = 15.0


def again_until(what: str, attempt: Callable[[], bool], timeout: float = CROSSING) -> None:
    """Repeat a step on the page, as a person would, until it succeeds; fail naming it at the deadline."""
    if not wait_until(attempt, timeout, interval=0.3):
        pytest.fail(f"timed out waiting for {what}")


def purchase(page: Any, ticket_url: str) -> None:
    """Press Purchase on the ticket's page until the orders service knows the ticket and takes the order."""

    def attempt() -> bool:
        page.goto(ticket_url)
        page.get_by_role("button", name="Purchase").click()
        page.wait_for_load_state("load")
        return re.search(r"/orders/[0-9a-f-]+$", page.url) is not None

    again_until("the orders service to take the order", attempt)


def test_a_sale_and_a_payment_go_through_the_clients_pages_behind_the_front(
    example: Callable[..., Example], new_context: Any, check: PageCheck
) -> None:
    # A minute to pay: the walk, not the hold, is under test here.
    running = example(EVENTHIVE_RESERVATION_TTL="60")
    wait_for_the_front(running)
    front = f"http://127.0.0.1:{running.front_port}"
    title = f"Split gig {uuid.uuid4().hex[:6]}"

    # The seller, without JavaScript: sign up, sell.
    seller = new_context(javascript=False).new_page()
    seller.goto(f"{front}/auth/signup")
    sign_up_on_the_page(seller, email_for("seller"))
    header(seller).get_by_role("link", name="Sell Tickets").click()
    expect(seller).to_have_url(f"{front}/tickets/new")
    seller.get_by_label("Title").fill(title)
    seller.get_by_label("Price").fill("25.50")
    seller.get_by_role("button", name="Submit").click()
    expect(seller).to_have_url(f"{front}/")
    expect(seller.get_by_role("row").filter(has_text=title)).to_contain_text("25.50 USD")
    check.look(seller, "split-01-index")

    # The buyer, on a phone with JavaScript: finds the ticket, signs up on the way, buys.
    buyer = new_context(phone=True).new_page()
    buyer.goto(f"{front}/")
    buyer.get_by_role("link", name=f"View {title}").click()
    ticket_url = buyer.url
    buyer.get_by_role("button", name="Purchase").click()
    expect(buyer).to_have_url(re.compile(r"/auth/signin\?next="))
    buyer.get_by_role("link", name="Create an account").click()
    sign_up_on_the_page(buyer, email_for("buyer"))
    expect(buyer.get_by_role("heading", level=1)).to_have_text(title)
    purchase(buyer, ticket_url)
    order_url = buyer.url

    # The order: the countdown runs by itself; a declined card, then a good one.
    seconds = buyer.locator("[data-countdown-value]")
    first = int(seconds.inner_text())
    assert 0 < first <= 60
    expect(seconds).not_to_have_text(str(first), timeout=5_000)
    check.look(buyer, "split-02-order-open")

    def pay(card: str) -> None:
        buyer.get_by_label(card).check()
        buyer.get_by_role("button", name=re.compile(r"^Pay ")).click()
        buyer.wait_for_load_state("load")

    def declined() -> bool:
        buyer.goto(order_url)
        pay("Card ending 0002 (declined)")
        return "Your card was declined." in buyer.get_by_role("main").inner_text()

    again_until("the payments service to know the order and decline the card", declined)
    expect(buyer.locator("[data-status]")).to_have_text("created")

    def paid() -> bool:
        buyer.goto(order_url)
        pay("Visa ending 4242 (pays)")
        return buyer.url == f"{order_url}?paid=1"

    again_until("the payment to go through", paid)
    # The orders service settles the payment a delivery later; the page looks again until then.
    expect(buyer.locator("[data-status]")).to_have_text("complete", timeout=CROSSING * 1000)
    expect(buyer.locator("[data-countdown]")).to_have_count(0)
    check.look(buyer, "split-03-order-complete")
    header(buyer).get_by_role("link", name="My Orders").click()
    expect(buyer.get_by_role("row").filter(has_text=title)).to_contain_text("complete")

    # The tickets service hears of the sale: the ticket leaves the listing, the seller sees it sold.
    def unlisted() -> bool:
        buyer.goto(f"{front}/")
        return buyer.get_by_role("link", name=f"View {title}").count() == 0

    again_until("the ticket to leave the listing", unlisted)

    def sold() -> bool:
        seller.goto(f"{front}/tickets/mine")
        row = seller.get_by_role("row").filter(has_text=title)
        return (row.locator("[data-held]").inner_text(), row.locator("[data-sold]").inner_text()) == ("0", "1")

    again_until("the seller's page to show the unit sold", sold)
    check.look(seller, "split-04-tickets-mine")


def test_a_two_second_hold_lapses_on_the_clients_order_page_behind_the_front(
    example: Callable[..., Example], new_context: Any, check: PageCheck
) -> None:
    running = example(EVENTHIVE_RESERVATION_TTL="2")
    wait_for_the_front(running)
    front = f"http://127.0.0.1:{running.front_port}"
    title = f"Split hold {uuid.uuid4().hex[:6]}"
    seller = new_context().new_page()
    seller.goto(f"{front}/auth/signup?next=/tickets/new")
    sign_up_on_the_page(seller, email_for("seller"))
    seller.get_by_label("Title").fill(title)
    seller.get_by_label("Price").fill("15")
    seller.get_by_role("button", name="Submit").click()
    expect(seller).to_have_url(f"{front}/")

    buyer = new_context(phone=True).new_page()
    buyer.goto(f"{front}/auth/signup?next=/")
    sign_up_on_the_page(buyer, email_for("buyer"))
    buyer.get_by_role("link", name=f"View {title}").click()
    purchase(buyer, buyer.url)

    # The countdown reloads the page at zero; the orders service shows the lapsed hold as expired.
    expect(buyer.locator("[data-status]")).to_have_text("cancelled", timeout=20_000)
    expect(buyer.get_by_role("main")).to_contain_text("Order has expired")
    expect(buyer.get_by_role("button", name=re.compile(r"^Pay "))).to_have_count(0)
    check.look(buyer, "split-order-expired")

    def listed_again() -> bool:
        buyer.goto(f"{front}/")
        return buyer.get_by_role("link", name=f"View {title}").count() == 1

    again_until("the tickets service to free the unit", listed_again)
