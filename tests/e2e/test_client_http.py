"""The pages' HTTP client port against a live ``eventhive serve`` on a free port.

The client talks to it over real sockets, exactly as the ``client`` role talks to the front.
One server serves the module; each test signs up users of its own.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Response

from eventhive_core import (
    BadRequest,
    CannotOrderOwnTicket,
    EmailInUse,
    InvalidCredentials,
    Money,
    NotAuthorized,
    NotFound,
    OrderStatus,
    PaymentDeclined,
    SoldOut,
    SystemClock,
    ValidationFailed,
)
from eventhive_flask.client_http import ApiRefusal, ApiUnavailable, HttpClient, forwarded_headers, refusal_from
from eventhive_flask.testing import UNREACHED_RATE_LIMITS

from .conftest import EVENTHIVE, START_TIMEOUT, Server, _healthy, free_port, wait_until

COOKIE = "eventhive"


PASSWORD = "secret12"
_numbers = itertools.count()


def start_serve(folder: Path, **env: str) -> Server:
    """Run ``eventhive serve`` on a free port with a fresh data folder; fail the test if it does not answer."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    environment.update(UNREACHED_RATE_LIMITS)
    environment.update(env)
    command = [EVENTHIVE, "serve", "--port", str(port), "--workers", "1", "--data-dir", str(folder / "data")]
    with (folder / "serve.log").open("w") as log:
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    server = Server(process, port, folder / "data", folder / "serve.log")
    if not wait_until(lambda: _healthy(port) or process.poll() is not None, START_TIMEOUT) or process.poll():
        server.stop()
        pytest.fail("eventhive serve did not start:\n" + server.log.read_text())
    return server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_serve(tmp_path_factory.mktemp("api"))
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


def email(name: str) -> str:
    return f"{name}{next(_numbers)}@example.com"


def client_for(api: str, clock: SystemClock, token: str | None = None) -> HttpClient:
    return HttpClient(api, cookie_name=COOKIE, token=token, currency="USD", clock=clock, timeout=5)


def browser_cookies(client: HttpClient) -> list[str]:
    response = Response()
    client.pass_cookies(response)
    return response.headers.getlist("Set-Cookie")


def token_in(set_cookies: list[str]) -> str:
    value = set_cookies[0].split(";", 1)[0]
    name, _, token = value.partition("=")
    assert name == COOKIE
    return token


def signed_up(api: str, clock: SystemClock, email: str) -> HttpClient:
    anonymous = client_for(api, clock)
    anonymous.sign_up(email, PASSWORD)
    return client_for(api, clock, token_in(browser_cookies(anonymous)))


def test_signing_up_passes_the_apis_cookie_to_the_browser_as_the_api_wrote_it(api: str, clock: SystemClock) -> None:
    client = client_for(api, clock)
    ann = email("ann")

    client.sign_up(ann, PASSWORD)

    [cookie] = browser_cookies(client)
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    identity = client_for(api, clock, token_in([cookie])).signed_in()
    assert identity is not None
    assert identity.email == ann


def test_the_buyers_cookie_is_forwarded_so_the_api_knows_who_is_calling(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))

    ticket = seller.create_ticket("concert", "20.50", 2)

    assert ticket.price == Money(2050, "USD")
    assert ticket.owner_id == seller.signed_in().user_id  # type: ignore[union-attr]
    assert [view.id for view in seller.my_tickets().items] == [ticket.id]


def test_nobody_is_signed_in_without_a_cookie_or_with_a_bad_one(api: str, clock: SystemClock) -> None:
    assert client_for(api, clock).signed_in() is None
    assert client_for(api, clock, "not-a-token").signed_in() is None


def test_signing_in_with_a_wrong_password_raises_invalid_credentials_and_sets_no_cookie(
    api: str, clock: SystemClock
) -> None:
    ann = email("ann")
    signed_up(api, clock, ann)
    client = client_for(api, clock)

    with pytest.raises(InvalidCredentials):
        client.sign_in(ann, "wrong password")
    assert browser_cookies(client) == []


def test_an_email_in_use_comes_back_as_the_cores_error(api: str, clock: SystemClock) -> None:
    ann = email("ann")
    signed_up(api, clock, ann)

    with pytest.raises(EmailInUse):
        client_for(api, clock).sign_up(ann, PASSWORD)


def test_validation_errors_come_back_with_every_field_and_message(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))

    with pytest.raises(ValidationFailed) as refused:
        seller.create_ticket("", "-1", 1)

    fields = {error.field for error in refused.value.errors}
    assert fields == {"title", "price"}
    assert "Title is required" in [error.message for error in refused.value.errors]


def test_acting_without_a_cookie_raises_not_authorized(api: str, clock: SystemClock) -> None:
    with pytest.raises(NotAuthorized):
        client_for(api, clock).create_ticket("concert", "20", 1)
    with pytest.raises(NotAuthorized):
        client_for(api, clock).my_orders()


def test_an_unknown_ticket_raises_not_found(api: str, clock: SystemClock) -> None:
    with pytest.raises(NotFound):
        client_for(api, clock).ticket("01a236d2-b2eb-706e-bfff-0236e0503719")


def test_a_sale_through_the_api_gives_the_cores_views_and_refusals(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))
    buyer = signed_up(api, clock, email("buyer"))
    ticket = seller.create_ticket("concert", "20", 1)

    with pytest.raises(CannotOrderOwnTicket):
        seller.place_order(ticket.id, 1, None)
    order = buyer.place_order(ticket.id, 1, "page-purchase:abcdefghijklmnopqrst")
    again = buyer.place_order(ticket.id, 1, "page-purchase:abcdefghijklmnopqrst")
    with pytest.raises(SoldOut):
        signed_up(api, clock, email("late")).place_order(ticket.id, 1, None)
    with pytest.raises(NotAuthorized):
        seller.order(order.id)

    assert again.id == order.id
    assert order.status is OrderStatus.CREATED
    assert order.amount == Money(2000, "USD")
    assert order.expires_at > clock.now()
    assert buyer.ticket(ticket.id).available == 0
    assert [view.id for view in buyer.my_orders().items] == [order.id]


def test_paying_completes_the_order_and_a_declined_card_raises_a_bad_request_with_the_providers_message(
    api: str, clock: SystemClock
) -> None:
    seller = signed_up(api, clock, email("seller"))
    buyer = signed_up(api, clock, email("buyer"))
    ticket = seller.create_ticket("concert", "20", 2)
    order = buyer.place_order(ticket.id, 2, None)

    # The provider's own words reach the page, as in process: a 400 refusal the form shows.
    with pytest.raises(BadRequest, match="declined"):
        buyer.pay(order.id, "tok_chargeDeclined")
    buyer.pay(order.id, "tok_visa")

    assert buyer.order(order.id).status is OrderStatus.COMPLETE
    assert buyer.order(order.id).amount == Money(4000, "USD")
    (mine,) = seller.my_tickets().items
    assert (mine.available, mine.held, mine.sold) == (0, 0, 2)


def test_cancelling_an_order_frees_its_units(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))
    buyer = signed_up(api, clock, email("buyer"))
    ticket = seller.create_ticket("concert", "20", 1)
    order = buyer.place_order(ticket.id, 1, None)

    assert (buyer.ticket(ticket.id).held, buyer.ticket(ticket.id).sold) == (1, 0)
    buyer.cancel_order(order.id)

    cancelled = buyer.order(order.id)
    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, "buyer")
    assert (buyer.ticket(ticket.id).available, buyer.ticket(ticket.id).held) == (1, 0)


def test_signing_out_revokes_the_token_and_passes_the_apis_cleared_cookie(api: str, clock: SystemClock) -> None:
    buyer = signed_up(api, clock, email("buyer"))
    token = buyer._token

    buyer.sign_out()

    [cookie] = browser_cookies(buyer)
    assert cookie.startswith(f"{COOKIE}=;")
    assert client_for(api, clock, token).signed_in() is None


def test_the_next_page_cursor_comes_from_the_apis_link_header(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))
    for number in range(51):
        seller.create_ticket(f"concert {number}", "20", 1)

    first = seller.my_tickets()
    second = seller.my_tickets(first.next_cursor)

    assert len(first.items) == 50
    assert first.next_cursor is not None
    assert [view.title for view in second.items] == ["concert 50"]
    assert second.next_cursor is None


def test_an_unreachable_api_raises_api_unavailable(clock: SystemClock) -> None:
    with pytest.raises(ApiUnavailable):
        client_for("http://127.0.0.1:9", clock).available_tickets()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, b'{"errors": [{"message": "Cross-site request refused"}]}', ApiRefusal),
        (429, b"Too Many Requests", ApiRefusal),
        (400, b'{"errors": [{"message": "Your payment was declined. Try another card."}]}', PaymentDeclined),
        (404, b"<html>not found</html>", NotFound),
    ],
)
def test_error_bodies_map_to_the_cores_errors_with_the_apis_status(
    status: int, body: bytes, expected: type[Exception]
) -> None:
    error = refusal_from(status, body)

    assert type(error) is expected
    assert error.status_code == status


def test_prices_are_read_as_decimals_never_through_a_float(api: str, clock: SystemClock) -> None:
    seller = signed_up(api, clock, email("seller"))

    ticket = seller.create_ticket("concert", "0.29", 1)

    assert ticket.price.to_decimal() == Decimal("0.29")


def test_the_api_counts_each_browsers_sign_ins_by_the_address_the_client_forwards(
    tmp_path: Path, clock: SystemClock
) -> None:
    # The API trusts one proxy hop: the client, as behind the split's front listener for it.
    server = start_serve(tmp_path, EVENTHIVE_PROXY_HOPS="1", EVENTHIVE_RATE_LIMIT_SIGNIN="2 per minute")
    try:
        url = f"http://127.0.0.1:{server.port}"

        def browser(address: str) -> HttpClient:
            forwarded = forwarded_headers(address, "http", f"127.0.0.1:{server.port}")
            return HttpClient(
                url, cookie_name=COOKIE, token=None, currency="USD", clock=clock, timeout=5, forwarded=forwarded
            )

        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                browser("203.0.113.7").sign_in("nobody@example.com", "wrong password")
        with pytest.raises(ApiRefusal) as limited:
            browser("203.0.113.7").sign_in("nobody@example.com", "wrong password")
        assert limited.value.status_code == 429

        # Another browser behind the same client has its own budget.
        with pytest.raises(InvalidCredentials):
            browser("203.0.113.8").sign_in("nobody@example.com", "wrong password")
    finally:
        server.stop()
