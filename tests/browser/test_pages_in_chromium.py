"""The acceptance walk-throughs of the web pages, in Chromium against a real ``eventhive serve``.

The seller browses with JavaScript off (the pages must work without it); the buyer uses a phone
with JavaScript on (for the countdown). Every page looked at is screenshot and checked by axe-core.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

# The fixtures' types live in this folder's conftest.py, which is not importable as a module.
Server = PageCheck = Any

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None

# A hung browser should not hold the run for pytest's default 300 s.
pytestmark = pytest.mark.timeout(120)

PASSWORD = "browser-pass"


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def email_for(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:10]}@example.com"


def sign_up_on_the_page(page: Any, email: str) -> None:
    page.get_by_label("Email Address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign Up").click()


def header(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main")


def account_with_ticket(server: Server, title: str, price: float = 15) -> None:
    """A seller and their ticket, made through the API (setup the test does not look at)."""
    email = email_for("seller")
    server.api("POST", "/api/users/signup", {"email": email, "password": PASSWORD})
    token = server.api("POST", "/api/users/tokens", {"email": email, "password": PASSWORD})["token"]
    server.api("POST", "/api/tickets", {"title": title, "price": price}, token=token)


def test_a_seller_sells_and_a_buyer_buys_pays_and_the_ticket_leaves_the_listing(
    server: Server, new_context: Any, check: PageCheck
) -> None:
    title = unique("Jazz night")

    # The seller, without JavaScript, on a desktop.
    seller = new_context(javascript=False).new_page()
    seller.goto(f"{server.url}/auth/signup")
    check.look(seller, "01-signup")
    sign_up_on_the_page(seller, email_for("seller"))
    expect(header(seller).get_by_role("link", name="Sell Tickets")).to_be_visible()
    header(seller).get_by_role("link", name="Sell Tickets").click()
    expect(seller).to_have_url(f"{server.url}/tickets/new")
    check.look(seller, "02-tickets-new")
    seller.get_by_label("Title").fill(title)
    seller.get_by_label("Price").fill("25.50")
    seller.get_by_role("button", name="Submit").click()
    expect(seller).to_have_url(f"{server.url}/")
    row = seller.get_by_role("row").filter(has_text=title)
    expect(row).to_contain_text("25.50 USD")
    check.look(seller, "03-index")

    # The buyer, on a phone with JavaScript: finds the ticket, is asked to sign up first.
    buyer = new_context(phone=True).new_page()
    buyer.goto(f"{server.url}/")
    buyer.get_by_role("link", name=f"View {title}").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text(title)
    check.look(buyer, "04-ticket")
    buyer.get_by_role("button", name="Purchase").click()
    expect(buyer).to_have_url(re.compile(r"/auth/signin\?next="))
    check.look(buyer, "05-signin")
    buyer.get_by_role("link", name="Create an account").click()
    sign_up_on_the_page(buyer, email_for("buyer"))
    expect(buyer.get_by_role("heading", level=1)).to_have_text(title)  # back on the ticket
    buyer.get_by_role("button", name="Purchase").click()

    # The order: a live countdown, a declined card, then a good one.
    expect(buyer).to_have_url(re.compile(r"/orders/[0-9a-f-]+$"))
    order_url = buyer.url
    seconds = buyer.locator("[data-countdown-value]")
    first = int(seconds.inner_text())
    assert 0 < first <= 60
    expect(seconds).not_to_have_text(str(first), timeout=5_000)  # it counts down by itself
    assert int(seconds.inner_text()) < first
    check.look(buyer, "06-order-open")
    buyer.get_by_label("Card ending 0002 (declined)").check()
    buyer.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(buyer.get_by_role("alert")).to_contain_text("Your card was declined.")
    expect(buyer.locator("[data-status]")).to_have_text("created")
    check.look(buyer, "07-order-declined")
    buyer.get_by_label("Visa ending 4242 (pays)").check()
    buyer.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(buyer).to_have_url(f"{order_url}?paid=1")
    expect(buyer.locator("[data-status]")).to_have_text("complete")
    expect(buyer.locator("[data-countdown]")).to_have_count(0)
    check.look(buyer, "08-order-complete")
    header(buyer).get_by_role("link", name="My Orders").click()
    expect(buyer.get_by_role("row").filter(has_text=title)).to_contain_text("complete")
    check.look(buyer, "09-orders")

    # The ticket left the listing; the seller sees it sold.
    buyer.goto(f"{server.url}/")
    expect(buyer.get_by_role("link", name=f"View {title}")).to_have_count(0)
    seller.goto(f"{server.url}/tickets/mine")
    mine = seller.get_by_role("row").filter(has_text=title)
    expect(mine.locator("[data-held]")).to_have_text("0")
    expect(mine.locator("[data-sold]")).to_have_text("1")
    check.look(seller, "10-tickets-mine")


def test_an_unpaid_order_shows_cancelled_once_its_time_runs_out(
    short_ttl_server: Server, new_context: Any, check: PageCheck
) -> None:
    title = unique("Short hold")
    account_with_ticket(short_ttl_server, title)
    buyer = new_context(phone=True).new_page()
    buyer.goto(f"{short_ttl_server.url}/auth/signup?next=/")
    sign_up_on_the_page(buyer, email_for("buyer"))
    buyer.get_by_role("link", name=f"View {title}").click()
    buyer.get_by_role("button", name="Purchase").click()
    expect(buyer.locator("[data-status]")).to_have_text("created")

    # Playwright polls; the countdown reloads the page at zero and the server settles the order.
    expect(buyer.locator("[data-status]")).to_have_text("cancelled", timeout=20_000)
    expect(buyer.get_by_role("main")).to_contain_text("Order has expired")
    expect(buyer.get_by_role("button", name=re.compile(r"^Pay "))).to_have_count(0)
    check.look(buyer, "order-expired")
    buyer.goto(f"{short_ttl_server.url}/")
    expect(buyer.get_by_role("link", name=f"View {title}")).to_have_count(1)  # free for the next buyer


def test_a_bad_sign_up_shows_each_fields_error_next_to_it(server: Server, new_context: Any, check: PageCheck) -> None:
    page = new_context(phone=True).new_page()
    page.goto(f"{server.url}/auth/signup")
    page.get_by_label("Email Address").fill("not-an-email")
    page.get_by_label("Password").fill("1")
    page.get_by_role("main").get_by_role("button", name="Sign Up").click()

    email, password = page.get_by_label("Email Address"), page.get_by_label("Password")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Email must be valid")
    expect(password).to_have_accessible_description("Password must be between 4 and 20 characters")
    expect(page.get_by_role("alert")).to_contain_text("Something went wrong!")
    expect(email).to_have_value("not-an-email")
    check.look(page, "signup-errors")


def test_signing_out_hides_the_seller_links(server: Server, new_context: Any, check: PageCheck) -> None:
    page = new_context().new_page()
    page.goto(f"{server.url}/auth/signup")
    sign_up_on_the_page(page, email_for("leaver"))
    nav = header(page)
    for name in ("Sell Tickets", "My Orders", "My Tickets"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    expect(nav.get_by_role("link", name="Sign In")).to_have_count(0)
    page.goto(f"{server.url}/auth/signout")
    check.look(page, "signout")

    page.get_by_role("main").get_by_role("button", name="Sign Out").click()

    expect(page).to_have_url(f"{server.url}/")
    for name in ("Sell Tickets", "My Orders", "My Tickets"):
        expect(nav.get_by_role("link", name=name)).to_have_count(0)
    expect(nav.get_by_role("link", name="Sign In")).to_be_visible()
    expect(nav.get_by_role("link", name="Sign Up")).to_be_visible()
    check.look(page, "signed-out-index")
    page.goto(f"{server.url}/orders")
    expect(page).to_have_url(re.compile(r"/auth/signin\?next=/orders$"))


def test_the_keyboard_reaches_the_sign_up_form_in_reading_order(server: Server, new_context: Any) -> None:
    page = new_context().new_page()
    page.goto(f"{server.url}/auth/signup")
    focused = []
    for _ in range(7):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return (e.labels && e.labels[0] ? e.labels[0].innerText : e.innerText).trim(); })()"
            )
        )

    assert focused == ["Skip to content", "EventHive", "Sign Up", "Sign In", "Email Address", "Password", "Sign Up"]


def test_an_unknown_page_shows_a_readable_error(server: Server, new_context: Any, check: PageCheck) -> None:
    page = new_context(phone=True).new_page()

    response = page.goto(f"{server.url}/tickets/{uuid.uuid4()}")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not Found")
    check.look(page, "not-found")


@pytest.mark.parametrize("path", ["/", "/auth/signin"])
def test_the_pages_fit_a_phone_without_javascript(
    path: str, server: Server, new_context: Any, check: PageCheck
) -> None:
    page = new_context(phone=True, javascript=False).new_page()
    page.goto(f"{server.url}{path}")
    check.look(page, "phone-no-js")
