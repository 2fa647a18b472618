"""The web pages through Flask's test client: no browser needed, so these run everywhere.

They pin what the browser tests cannot see cheaply: CSRF refusals, redirects, the pages switch,
the security headers, and that a page and the JSON API share one Hive, one cookie and one set of
messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventhive_core import ConfigurationError, Hive
from eventhive_core.testing.fakes import FrozenClock
from eventhive_flask.extension import EventHive
from eventhive_flask.testing import TEST_PASSWORD, make_test_app
from eventhive_flask.views.page_forms import CSRF_FIELD, FormErrors, safe_next, whole_number

CSRF_INPUT = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(clock: FrozenClock) -> Iterator[Flask]:
    app = make_test_app(clock=clock)
    yield app
    EventHive.hive_for(app).close()


def hive_of(app: Flask) -> Hive:
    return EventHive.hive_for(app)


def text_of(response: object) -> str:
    return unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def csrf_of(client: FlaskClient, path: str) -> str:
    found = CSRF_INPUT.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def submit(client: FlaskClient, path: str, **fields: str) -> object:
    """Load the form's page (for its token), then post the fields with it, like a browser."""
    return client.post(path, data={CSRF_FIELD: csrf_of(client, path), **fields})


def signed_up(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = submit(client, "/auth/signup", email=email, password=TEST_PASSWORD)
    assert response.status_code == 303, text_of(response)
    return client


def listed_ticket(client: FlaskClient, title: str = "Concert", price: str = "20") -> str:
    response = submit(client, "/tickets/new", title=title, price=price, capacity="1")
    assert response.status_code == 303, text_of(response)
    owner = client.get("/api/tickets?owner=me").get_json()
    return str(next(t["id"] for t in owner if t["title"] == title))


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(app: Flask) -> None:
    client = app.test_client()
    client.get("/auth/signup")  # the browser has a token cookie, but the form does not carry it

    response = client.post("/auth/signup", data={"email": "a@b.co", "password": TEST_PASSWORD})

    assert response.status_code == 400
    assert "Reload the page and try again" in text_of(response)
    assert client.post("/api/users/signin", json={"email": "a@b.co", "password": TEST_PASSWORD}).status_code == 400


def test_a_csrf_token_from_another_browser_is_refused(app: Flask) -> None:
    mallory, victim = app.test_client(), app.test_client()
    token_of_mallory = csrf_of(mallory, "/auth/signup")
    victim.get("/auth/signup")

    response = victim.post(
        "/auth/signup", data={CSRF_FIELD: token_of_mallory, "email": "v@b.co", "password": TEST_PASSWORD}
    )

    assert response.status_code == 400


def test_a_forged_csrf_cookie_is_not_trusted(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie("eventhive_csrf", "chosen-by-the-attacker")

    response = client.post(
        "/auth/signup", data={CSRF_FIELD: "chosen-by-the-attacker", "email": "f@b.co", "password": TEST_PASSWORD}
    )

    assert response.status_code == 400


def test_signing_up_from_the_page_sets_the_same_cookie_the_api_reads(app: Flask) -> None:
    client = signed_up(app, "page@example.com")

    current = client.get("/api/users/currentuser").get_json()

    assert current["currentUser"]["email"] == "page@example.com"


def test_a_bad_sign_up_shows_the_cores_messages_next_to_their_fields(app: Flask) -> None:
    client = app.test_client()

    response = submit(client, "/auth/signup", email="not-an-email", password="1")
    page = text_of(response)

    assert response.status_code == 400
    assert re.search(r'id="email-error">\s*<p>Email must be valid</p>', page)
    assert re.search(r'id="password-error">\s*<p>Password must be between 4 and 20 characters</p>', page)
    assert 'aria-describedby="email-error"' in page
    assert 'value="not-an-email"' in page  # the email is kept, the password never is


def test_a_page_and_the_api_give_the_same_message_for_the_same_mistake(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    api_messages = [
        e["message"] for e in seller.post("/api/tickets", json={"title": "", "price": "-3"}).get_json()["errors"]
    ]

    page = text_of(submit(seller, "/tickets/new", title="", price="-3", capacity="1"))

    assert api_messages
    for message in api_messages:
        assert message in page


def test_wrong_credentials_show_the_message_without_a_field(app: Flask) -> None:
    signed_up(app, "known@example.com")

    response = submit(app.test_client(), "/auth/signin", email="known@example.com", password="wrong-one")

    assert response.status_code == 400
    assert "Invalid credentials" in text_of(response)


def test_a_signed_out_visitor_is_sent_to_sign_in_and_then_back(app: Flask) -> None:
    signed_up(app, "back@example.com")
    client = app.test_client()

    first = client.get("/orders")
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/auth/signin?next=/orders")

    signin = submit(
        client, "/auth/signin?next=/orders", email="back@example.com", password=TEST_PASSWORD, next="/orders"
    )
    assert signin.status_code == 303
    assert signin.headers["Location"] == "/orders"


def test_sign_in_never_redirects_to_another_site(app: Flask) -> None:
    signed_up(app, "stay@example.com")

    response = submit(
        app.test_client(), "/auth/signin", email="stay@example.com", password=TEST_PASSWORD, next="//evil.example/"
    )

    assert response.headers["Location"] == "/"


def test_buying_and_paying_from_the_pages_completes_the_order_and_sells_the_unit(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller, price="12.50")
    buyer = signed_up(app, "buyer@example.com")

    purchase = submit(buyer, f"/tickets/{ticket_id}")
    assert purchase.status_code == 303
    order_path = purchase.headers["Location"]
    order_page = text_of(buyer.get(order_path))
    assert "Time left to pay" in order_page
    assert "12.50 USD" in order_page

    paid = submit(buyer, order_path, action="pay", token="tok_visa")

    assert paid.status_code == 303
    assert "data-status>complete<" in text_of(buyer.get(order_path))
    assert ticket_id not in text_of(buyer.get("/"))
    mine = text_of(seller.get("/tickets/mine"))
    assert re.search(r"data-held>0<.*data-sold>1<", mine, re.S)


def test_a_declined_card_shows_the_providers_refusal_and_the_order_stays_open(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller)
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{ticket_id}").headers["Location"]

    declined = submit(buyer, order_path, action="pay", token="tok_chargeDeclined")

    assert declined.status_code == 400
    page = text_of(declined)
    assert "declined" in page
    assert "data-status>created<" in page
    assert 'value="tok_chargeDeclined" checked' in page  # the buyer's choice is kept


def test_a_ticket_with_several_units_asks_how_many_and_shows_the_cores_quantity_message(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    submit(seller, "/tickets/new", title="Festival", price="40", capacity="3")
    ticket_id = next(t["id"] for t in seller.get("/api/tickets?owner=me").get_json() if t["title"] == "Festival")
    buyer = signed_up(app, "buyer@example.com")
    api_message = buyer.post("/api/orders", json={"ticketId": ticket_id, "quantity": 0}).get_json()["errors"][0]

    response = submit(buyer, f"/tickets/{ticket_id}", quantity="0")

    assert response.status_code == 400
    assert api_message["field"] == "quantity"
    assert re.search(rf'id="quantity-error">\s*<p>{re.escape(api_message["message"])}</p>', text_of(response))
    two = submit(buyer, f"/tickets/{ticket_id}", quantity="2")
    assert "<dd>2</dd>" in text_of(buyer.get(two.headers["Location"]))


def test_an_unpaid_order_past_its_time_shows_cancelled_even_before_any_timer_fires(
    app: Flask, clock: FrozenClock
) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller)
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{ticket_id}").headers["Location"]

    clock.advance(hive_of(app).settings.reservation_ttl + timedelta(seconds=1))
    page = text_of(buyer.get(order_path))

    assert "data-status>cancelled<" in page
    assert "Order has expired" in page
    assert "Time left to pay" not in page
    assert ticket_id in text_of(buyer.get("/"))  # the unit is free again


def test_the_buyer_can_cancel_an_open_order_from_its_page(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller)
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{ticket_id}").headers["Location"]

    submit(buyer, order_path, action="cancel")

    assert "You cancelled this order" in text_of(buyer.get(order_path))


def test_an_order_just_paid_but_not_yet_confirmed_says_so_and_offers_no_second_payment(app: Flask) -> None:
    # In a split the orders service completes the order a delivery after the payment: the page
    # the buyer lands on after paying (?paid=1) may still see it open.
    seller = signed_up(app, "seller@example.com")
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{listed_ticket(seller)}").headers["Location"]

    page = text_of(buyer.get(f"{order_path}?paid=1"))

    assert "data-confirming" in page
    assert "Payment sent: waiting for the order to confirm it." in page
    assert 'name="action" value="pay"' not in page
    assert 'name="action" value="cancel"' not in page
    assert "Time left to pay" in page  # the countdown still bounds the wait


def test_paying_from_the_page_lands_on_the_order_which_in_one_process_is_already_complete(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{listed_ticket(seller)}").headers["Location"]

    paid = submit(buyer, order_path, action="pay", token="tok_visa")

    assert paid.headers["Location"] == f"{order_path}?paid=1"  # type: ignore[attr-defined]
    landed = text_of(buyer.get(paid.headers["Location"]))  # type: ignore[attr-defined]
    assert "data-status>complete<" in landed
    assert "data-confirming" not in landed


def test_an_order_the_seller_refunded_says_so_on_its_page(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{listed_ticket(seller)}").headers["Location"]
    submit(buyer, order_path, action="pay", token="tok_visa")
    order_id = order_path.rsplit("/", 1)[-1]

    assert seller.post(f"/api/orders/{order_id}/refund", json={}).status_code == 200

    page = text_of(buyer.get(order_path))
    assert "data-status>cancelled<" in page
    assert "The seller refunded this order." in page


def test_someone_elses_order_page_is_refused(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller)
    buyer = signed_up(app, "buyer@example.com")
    order_path = submit(buyer, f"/tickets/{ticket_id}").headers["Location"]

    response = seller.get(order_path)

    assert response.status_code == 401
    assert "Not authorized" in text_of(response)


def test_an_unknown_ticket_page_is_a_404_page(app: Flask) -> None:
    response = app.test_client().get("/tickets/no-such-ticket")

    assert response.status_code == 404
    assert "Not Found" in text_of(response)


def test_buying_your_own_ticket_shows_the_cores_refusal_on_the_ticket_page(app: Flask) -> None:
    seller = signed_up(app, "seller@example.com")
    ticket_id = listed_ticket(seller)

    response = submit(seller, f"/tickets/{ticket_id}")

    assert response.status_code == 400
    assert "You cannot order your own ticket" in text_of(response)


def test_signing_out_revokes_the_token_and_shows_the_signed_out_header(app: Flask) -> None:
    client = signed_up(app, "out@example.com")
    token = client.get_cookie("eventhive")
    assert token is not None

    response = submit(client, "/auth/signout")

    assert response.status_code == 303
    assert client.get_cookie("eventhive") is None
    header = text_of(client.get("/"))
    assert "Sign In" in header
    assert "Sell Tickets" not in header
    bearer = app.test_client().get("/api/orders", headers={"Authorization": f"Bearer {token.value}"})
    assert bearer.status_code == 401


def test_every_page_forbids_framing_and_keeps_scripts_to_our_own(app: Flask) -> None:
    response = app.test_client().get("/auth/signin")

    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_pages_can_be_switched_off_leaving_the_api(clock: FrozenClock) -> None:
    app = make_test_app(clock=clock, EVENTHIVE_PAGES=False)
    try:
        client = app.test_client()
        assert client.get("/").status_code == 404
        assert client.get("/auth/signin").status_code == 404
        assert client.get("/api/tickets").status_code == 200
    finally:
        hive_of(app).close()


def test_the_pages_follow_the_url_prefix(clock: FrozenClock) -> None:
    app = make_test_app(clock=clock, EVENTHIVE_URL_PREFIX="/shop")
    try:
        client = app.test_client()
        page = text_of(client.get("/shop/"))
        assert 'href="/shop/auth/signin"' in page
        assert client.get("/shop/static/eventhive/countdown.js").status_code == 200
    finally:
        hive_of(app).close()


def test_pages_without_any_secret_to_sign_the_csrf_cookie_fail_at_start() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        make_test_app(
            EVENTHIVE_JWT_ALGORITHM="EdDSA",
            EVENTHIVE_JWT_SECRET=None,
            EVENTHIVE_JWT_PRIVATE_KEY=private,
            EVENTHIVE_JWT_PUBLIC_KEY=public,
        )


def test_form_errors_split_field_messages_from_general_ones() -> None:
    from eventhive_core import FieldError, InvalidCredentials, ValidationFailed

    fields = FormErrors.from_error(ValidationFailed([FieldError("A", "email"), FieldError("B", "email")]))
    general = FormErrors.from_error(InvalidCredentials())

    assert fields.for_field("email") == ["A", "B"]
    assert fields.for_field("password") == []
    assert general.all_messages() == ["Invalid credentials"]
    assert not FormErrors()


@pytest.mark.parametrize(
    ("text", "number"), [("1", 1), (" 12 ", 12), ("", 0), ("-1", 0), ("1.5", 0), ("٣", 0), ("9" * 12, 0)]
)
def test_form_numbers_that_are_not_plain_whole_numbers_become_zero_for_the_core_to_refuse(
    text: str, number: int
) -> None:
    assert whole_number(text) == number


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/orders/1", "/orders/1"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\nSet-Cookie", "/"),
        (None, "/"),
    ],
)
def test_the_next_page_after_sign_in_stays_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target, "/") == expected
