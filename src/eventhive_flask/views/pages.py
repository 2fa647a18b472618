"""The web pages: the original client's pages, rendered on the server with Jinja.

One blueprint, ``eventhive_pages``, mounted at ``EVENTHIVE_URL_PREFIX`` when ``EVENTHIVE_PAGES`` is
on. Every page goes through the client port (:mod:`eventhive_flask.client_port`): the app's own
Hive, or the JSON API at ``EVENTHIVE_API_URL`` (``eventhive service client``), so every rule and
every message comes from the core either way; a form shows the core's refusals next to its fields.
Forms post back to the page they sit on and answer with a redirect (post/redirect/get), so the
pages work without JavaScript; the order page's countdown, and its card field when the provider is
Stripe, are the scripts. Every POST needs the browser's CSRF token
(:mod:`eventhive_flask.views.page_forms`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, g, make_response, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from eventhive_core import (
    ConfigurationError,
    EventHiveError,
    Identity,
    Money,
    NotAuthorized,
    NotFound,
    OrderView,
    TicketView,
)
from eventhive_flask.auth import SAFE_METHODS, clear_token_cookie, cookie_token
from eventhive_flask.bodies import drain_body
from eventhive_flask.client_http import HttpClient, forwarded_headers
from eventhive_flask.client_inprocess import InProcessClient
from eventhive_flask.client_port import ClientPort
from eventhive_flask.errors import from_unexpected
from eventhive_flask.state import current_state
from eventhive_flask.views.page_forms import (
    CSRF_FIELD,
    FORM_KEY_FIELD,
    NO_ERRORS,
    FormErrors,
    check_csrf_token,
    csrf_token,
    new_form_key,
    purchase_key,
    safe_next,
    save_csrf_cookie,
    signing_secret,
    whole_number,
)

#: The pages blueprint (registered by ``EventHive.init_app`` when ``EVENTHIVE_PAGES`` is on).
pages = Blueprint(
    "eventhive_pages",
    __name__,
    template_folder="../templates",
    static_folder="../static/eventhive",
    static_url_path="/static/eventhive",
)

#: The fake provider's test cards a buyer can pick (the token each one posts, and its label).
FAKE_CARDS: tuple[tuple[str, str], ...] = (
    ("tok_visa", "Visa ending 4242 (pays)"),
    ("tok_chargeDeclined", "Card ending 0002 (declined)"),
)

#: Stripe.js's own address; with it, the origins Stripe documents for its frames and API calls.
STRIPE_JS = "https://js.stripe.com"
STRIPE_FRAMES = ("https://js.stripe.com", "https://hooks.stripe.com")
STRIPE_API = "https://api.stripe.com"


def content_security_policy(stripe_js_url: str | None = None) -> str:
    """Return the pages' Content-Security-Policy: our own scripts only, plus Stripe.js where it runs.

    With ``stripe_js_url`` (the order page, when the provider is ``stripe``), the script's origin
    may run, and Stripe's frame and API origins are allowed; a stand-in served elsewhere (tests)
    gets its own origin for all three.

    Examples:
        >>> "script-src 'self';" in content_security_policy()
        True
        >>> "script-src 'self' http://127.0.0.1:9;" in content_security_policy("http://127.0.0.1:9/v3/")
        True
    """
    script, frames, connect = ["'self'"], ["'none'"], ["'self'"]
    if stripe_js_url is not None:
        parts = urlsplit(stripe_js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        script.append(origin)
        frames, extra = ([*STRIPE_FRAMES], STRIPE_API) if origin == STRIPE_JS else ([origin], origin)
        connect.append(extra)
    return (
        f"default-src 'self'; script-src {' '.join(script)}; style-src 'self'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; frame-src {' '.join(frames)}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


#: Headers on every page: no framing (clickjacking), our own scripts and styles only.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class StripeForm:
    """What the order page's card form needs when the provider is ``stripe``.

    Attributes:
        js_url: Where Stripe.js loads from (``EVENTHIVE_STRIPE_JS_URL``).
        publishable_key: Stripe's publishable key.
        attempt_key: A key of this rendered form, the stem of its payments' Idempotency-Keys.
        pay_url: Where the form's script posts the payment (``POST /api/payments``).
        order_url: Where it reads the order back (``GET /api/orders/<id>``).
    """

    js_url: str
    publishable_key: str
    attempt_key: str
    pay_url: str
    order_url: str


def current_client() -> ClientPort:
    """Return the client port of this browser request: over ``EVENTHIVE_API_URL`` when it is set, else the Hive."""
    client = g.get("eventhive_client")
    if client is None:
        state = current_state()
        if state.flask.api_url:
            client = HttpClient(
                state.flask.api_url,
                cookie_name=state.flask.cookie_name,
                token=cookie_token(),
                currency=state.settings.currency,
                clock=state.hive.clock,
                timeout=state.flask.api_timeout,
                forwarded=forwarded_headers(request.remote_addr, request.scheme, request.host),
            )
        else:
            client = InProcessClient(state.hive)
        g.eventhive_client = client
    port: ClientPort = client
    return port


def _viewer() -> Identity | None:
    # For the header and the error handler: a page that cannot tell who is signed in still renders.
    try:
        return current_client().signed_in()
    except EventHiveError:
        return None


@pages.record_once
def _check_secret(setup: BlueprintSetupState) -> None:
    # Fail at start, not on the first form, when no secret can sign the CSRF cookie.
    if isinstance(setup.app, Flask):
        signing_secret(setup.app)


@pages.before_request
def _guard() -> None:
    request.max_content_length = current_state().flask.max_content_length
    if request.method not in SAFE_METHODS:
        check_csrf_token()


@pages.after_request
def _finish(response: Response) -> Response:
    drain_body()  # an early answer must not leave half a body on a keep-alive connection
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    client = g.get("eventhive_client")
    if client is not None:
        client.pass_cookies(response)  # the token cookie a sign-up or sign-in set
    if request.endpoint != "eventhive_pages.static":
        # Pages show one person's orders and tokens: never cache them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return save_csrf_cookie(response)


@pages.context_processor
def _page_context() -> dict[str, object]:
    return {
        "identity": _viewer(),
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "form_key_field": FORM_KEY_FIELD,
        "money": money_text,
    }


@pages.errorhandler(EventHiveError)
def _refused(exc: EventHiveError) -> Response | tuple[str, int]:
    if isinstance(exc, NotAuthorized) and _viewer() is None:
        return _see_other(url_for("eventhive_pages.signin", next=request.path))
    if isinstance(exc, ConfigurationError) or (exc.status_code >= 500 and type(exc) is EventHiveError):
        return _failed(exc)
    return render_template("eventhive/error.html", message=exc.message, status=exc.status_code), exc.status_code


@pages.errorhandler(Exception)
def _unexpected(exc: Exception) -> HTTPException | tuple[str, int]:
    if isinstance(exc, HTTPException):
        return exc  # 404, 405, 413...: Flask's own pages, as for the rest of the app
    return _failed(exc)


def _failed(exc: Exception) -> tuple[str, int]:
    from_unexpected(exc)  # logs the traceback; the page shows no detail
    return render_template("eventhive/error.html", message="Something went wrong", status=500), 500


def money_text(amount: Money) -> str:
    """Show an amount with its currency's decimals (``20.00 USD``)."""
    return str(amount)


def _see_other(location: str) -> Response:
    response = Response(status=303)
    response.headers["Location"] = location
    return response


def _identity() -> Identity:
    identity = current_client().signed_in()
    if identity is None:
        raise NotAuthorized()
    return identity


def _form(name: str) -> str:
    return request.form.get(name, "")


def _refusal(exc: EventHiveError) -> FormErrors:
    # Not signed in, someone else's, unknown, or broken: the page-level handler answers
    # (redirect, 401, 404, 500); everything else is the form's business.
    if isinstance(exc, NotAuthorized | NotFound | ConfigurationError) or type(exc) is EventHiveError:
        raise exc
    return FormErrors.from_error(exc)


# --- tickets -------------------------------------------------------------------------------------


@pages.get("/", endpoint="index")
def index() -> str:
    """Tickets with a free unit (title, price, units left, link), oldest first."""
    page = current_client().available_tickets(cursor=request.args.get("cursor") or None)
    return render_template("eventhive/index.html", tickets=page.items, next_cursor=page.next_cursor)


@pages.route("/tickets/new", methods=["GET", "POST"], endpoint="new_ticket")
def new_ticket() -> str | Response | tuple[str, int]:
    """Sell a ticket: title, price and units; the core's messages appear next to the fields."""
    _identity()
    if request.method == "GET":
        return render_template("eventhive/tickets/new.html", errors=NO_ERRORS, values={"capacity": "1"})
    values = {"title": _form("title"), "price": _form("price"), "capacity": _form("capacity") or "1"}
    try:
        current_client().create_ticket(values["title"], values["price"], whole_number(values["capacity"]))
    except EventHiveError as exc:
        errors = _refusal(exc)
        return render_template("eventhive/tickets/new.html", errors=errors, values=values), exc.status_code
    return _see_other(url_for("eventhive_pages.index"))


@pages.get("/tickets/mine", endpoint="my_tickets")
def my_tickets() -> str:
    """The seller's own tickets with how many units are held, sold and free."""
    _identity()
    page = current_client().my_tickets(cursor=request.args.get("cursor") or None)
    return render_template("eventhive/tickets/mine.html", tickets=page.items, next_cursor=page.next_cursor)


def _ticket_page(view: TicketView, errors: FormErrors, quantity: str, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "eventhive/tickets/show.html", ticket=view, errors=errors, quantity=quantity, form_key=new_form_key()
    )
    return page, status


@pages.route("/tickets/<ticket_id>", methods=["GET", "POST"], endpoint="ticket")
def ticket(ticket_id: str) -> str | Response | tuple[str, int]:
    """One ticket with its Purchase button; purchasing places an order and opens it.

    Each rendered form carries its own key, which the core records with the order it places
    (an Idempotency-Key): submitting the form twice (a double click), even across a crash of
    the worker, places one order, and both submissions land on it.
    """
    client = current_client()
    view = client.ticket(ticket_id)
    if request.method == "GET":
        return _ticket_page(view, NO_ERRORS, "1")
    _identity()
    quantity = _form("quantity") or "1"
    try:
        order = client.place_order(view.id, whole_number(quantity), purchase_key(_form(FORM_KEY_FIELD)))
    except EventHiveError as exc:
        errors = _refusal(exc)
        return _ticket_page(client.ticket(ticket_id), errors, quantity, exc.status_code)
    return _see_other(url_for("eventhive_pages.order", order_id=order.id))


# --- orders --------------------------------------------------------------------------------------


def _order_now(order_id: str) -> OrderView:
    # The core settles on read: a hold that ran out already shows as cancelled (expired).
    return current_client().order(order_id)


def _seconds_left(view: OrderView) -> int:
    if view.status.is_final:
        return 0
    left = (view.expires_at - current_client().now()).total_seconds()
    return max(0, math.ceil(left))


def _stripe_form(view: OrderView) -> StripeForm | None:
    state = current_state()
    if state.settings.payment_provider != "stripe" or not state.settings.stripe_publishable_key:
        return None
    if state.flask.api_url:
        # The client of a split serves no API route: the browser's script calls the API where the
        # front serves it, on this same origin.
        pay_url, order_url = "/api/payments", f"/api/orders/{quote(view.id, safe='')}"
    else:
        pay_url, order_url = url_for("eventhive_api.pay"), url_for("eventhive_api.show_order", order_id=view.id)
    key = state.settings.stripe_publishable_key
    return StripeForm(state.flask.stripe_js_url, key, new_form_key(), pay_url, order_url)


def _order_page(view: OrderView, errors: FormErrors, status: int = 200) -> Response:
    provider = current_state().settings.payment_provider
    stripe = _stripe_form(view)
    page = render_template(
        "eventhive/orders/show.html",
        order=view,
        seconds_left=_seconds_left(view),
        errors=errors,
        # Just paid, and the order not complete yet: in a split the orders service settles the
        # payment a delivery later, so the page says so and looks again (countdown.js).
        confirming=request.args.get("paid") == "1" and not view.status.is_final and not errors,
        fake_cards=FAKE_CARDS if provider == "fake" else (),
        chosen_token=_form("token") or FAKE_CARDS[0][0],
        stripe=stripe,
    )
    response = make_response(page, status)
    if stripe is not None:
        # Only the page that loads Stripe.js lets it run.
        response.headers["Content-Security-Policy"] = content_security_policy(stripe.js_url)
    return response


@pages.get("/orders", endpoint="orders")
def orders() -> str:
    """The buyer's orders with their statuses, oldest first."""
    _identity()
    page = current_client().my_orders(cursor=request.args.get("cursor") or None)
    return render_template("eventhive/orders/index.html", orders=page.items, next_cursor=page.next_cursor)


@pages.route("/orders/<order_id>", methods=["GET", "POST"], endpoint="order")
def order(order_id: str) -> Response:
    """One order: its real status, a countdown while it holds, and the pay and cancel forms."""
    _identity()
    view = _order_now(order_id)
    if request.method == "GET":
        return _order_page(view, NO_ERRORS)
    try:
        if _form("action") == "cancel":
            current_client().cancel_order(view.id)
        else:
            current_client().pay(view.id, _form("token"))
            return _see_other(url_for("eventhive_pages.order", order_id=view.id, paid=1))
    except EventHiveError as exc:
        errors = _refusal(exc)
        return _order_page(_order_now(order_id), errors, exc.status_code)
    return _see_other(url_for("eventhive_pages.order", order_id=view.id))


# --- accounts ------------------------------------------------------------------------------------


def _credentials_page(kind: str, errors: FormErrors, email: str, status: int = 200) -> tuple[str, int]:
    next_path = safe_next(request.values.get("next"), "")
    page = render_template("eventhive/auth/credentials.html", kind=kind, errors=errors, email=email, next=next_path)
    return page, status


def _credentials(kind: str) -> Response | tuple[str, int]:
    if request.method == "GET":
        return _credentials_page(kind, NO_ERRORS, "")
    email, password = _form("email"), _form("password")
    client = current_client()
    try:
        if kind == "signup":
            client.sign_up(email, password)
        else:
            client.sign_in(email, password)
    except EventHiveError as exc:
        return _credentials_page(kind, _refusal(exc), email, exc.status_code)
    # The same cookie the JSON API sets: the client port puts it on the response (see _finish).
    return _see_other(safe_next(request.values.get("next"), url_for("eventhive_pages.index")))


@pages.route("/auth/signup", methods=["GET", "POST"], endpoint="signup")
def signup() -> Response | tuple[str, int]:
    """Create an account (email, password) and sign in with it."""
    return _credentials("signup")


@pages.route("/auth/signin", methods=["GET", "POST"], endpoint="signin")
def signin() -> Response | tuple[str, int]:
    """Sign in with email and password."""
    return _credentials("signin")


@pages.route("/auth/signout", methods=["GET", "POST"], endpoint="signout")
def signout() -> str | Response:
    """Sign out: a button here (and in the header) posts; the token is revoked and the cookie cleared."""
    if request.method == "GET":
        return render_template("eventhive/auth/signout.html")
    current_client().sign_out()
    response = _see_other(url_for("eventhive_pages.index"))
    clear_token_cookie(response)
    return response


__all__ = [
    "FAKE_CARDS",
    "SECURITY_HEADERS",
    "STRIPE_API",
    "STRIPE_FRAMES",
    "STRIPE_JS",
    "StripeForm",
    "content_security_policy",
    "current_client",
    "money_text",
    "pages",
]
