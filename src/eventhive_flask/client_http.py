"""The client port over the public JSON API: the pages of ``eventhive service client``.

Each call is one HTTP request to ``<EVENTHIVE_API_URL>/api/...`` (the front, which routes it to
the service that owns the path), with the browser's token cookie forwarded as it came. A
``Set-Cookie`` the API answers with (sign-up, sign-in, sign-out) goes back to the browser
unchanged, so the browser holds the very cookie the API set. The API's error bodies,
``{"errors": [{"message", "field"?}]}``, become the core's errors again
(:func:`refusal_from`), so the pages show the same messages in the same places.

The standard library's :mod:`http.client` makes the calls: none of the declared dependencies is
an HTTP client, and these calls need no more than a timeout, no redirects and no cookie jar.

What the JSON API does not send, the views fill in: an order's amount is its ticket's price
times its quantity, and the creation times, which the pages never show, are the Unix epoch. An
API older than the client's (a rolling upgrade) may lack a ticket's ``held`` and ``sold`` and an
order's ``cancelReason``: then the units neither free nor sold count as held, and the order page
says "cancelled" without the reason.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from flask import Response

from eventhive_core import (
    AmountBelowMinimum,
    BadRequest,
    CannotCancelCompleteOrder,
    CannotEditReservedTicket,
    CannotOrderOwnTicket,
    CannotPayCancelledOrder,
    Clock,
    ConcurrencyConflict,
    EmailInUse,
    EventHiveError,
    FieldError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    Identity,
    InvalidCredentials,
    Money,
    NotAuthorized,
    NotFound,
    OrderAlreadyPaid,
    OrderNotComplete,
    OrderStatus,
    OrderView,
    Page,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentRefused,
    SoldOut,
    TicketSummary,
    TicketView,
    TransientStorageError,
    ValidationFailed,
)
from eventhive_core.ports.auth import TokenClaims
from eventhive_core.ports.payments import ChargeResult, PaymentProviderError, ProviderEvent

#: The creation time of views built from the API's bodies, which do not carry it (the pages never show it).
UNKNOWN_TIME = datetime.fromtimestamp(0, UTC)

#: Refusals the API answers 400 or 409 with, by their message: the page gets the same class back.
_BY_MESSAGE: Mapping[tuple[int, str], type[EventHiveError]] = {
    (cls.status_code, cls.message): cls
    for cls in (
        EmailInUse,
        InvalidCredentials,
        CannotEditReservedTicket,
        SoldOut,
        CannotOrderOwnTicket,
        CannotPayCancelledOrder,
        CannotCancelCompleteOrder,
        OrderAlreadyPaid,
        PaymentDeclined,
        PaymentRefused,
        OrderNotComplete,
        ConcurrencyConflict,
        PaymentInProgress,
        IdempotencyKeyInFlight,
        IdempotencyKeyReused,
    )
}


class ApiRefusal(EventHiveError):
    """A refusal of the API with no class of its own in the core (403 from its CSRF check, 429...).

    Args:
        status_code: The API's status.
        message: The API's first message.
    """

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(message)


class ApiUnavailable(EventHiveError):
    """The API could not be reached, or did not answer in time (503); the browser may retry."""

    status_code = 503
    message = "Service temporarily unavailable; retry shortly"


def _entries(body: bytes) -> list[dict[str, str]]:
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return []
    if not isinstance(errors, list):
        return []
    return [
        {key: value for key, value in entry.items() if isinstance(value, str)}
        for entry in errors
        if isinstance(entry, dict) and isinstance(entry.get("message"), str)
    ]


def refusal_from(status: int, body: bytes) -> EventHiveError:
    """Return the core's error for an API error response.

    Args:
        status: The response's status (400 or more).
        body: The response's body, ``{"errors": [...]}`` when the API made it.

    Examples:
        >>> type(refusal_from(400, b'{"errors": [{"message": "Ticket is already reserved"}]}')).__name__
        'SoldOut'
        >>> error = refusal_from(400, b'{"errors": [{"message": "Title is required", "field": "title"}]}')
        >>> type(error).__name__, error.errors[0].field
        ('ValidationFailed', 'title')
        >>> type(refusal_from(401, b"")).__name__, type(refusal_from(502, b"<html>")).__name__
        ('NotAuthorized', 'EventHiveError')
    """
    entries = _entries(body)
    fields = [FieldError(entry["message"], entry["field"]) for entry in entries if "field" in entry]
    message = entries[0]["message"] if entries else None
    if status == 400 and fields:
        return ValidationFailed(fields)
    if status == 401:
        return NotAuthorized(message)
    if status == 404:
        return NotFound(message)
    if status >= 500:
        # Our API says no more than "Something went wrong"; a proxy's page says less. Either way,
        # the page answers 500 and logs, as for a failure in this process; busy services say so.
        if status == 503:
            return TransientStorageError()
        if status == 502 and message == PaymentProviderUnavailable.message:
            return PaymentProviderUnavailable()
        return EventHiveError()
    known = _BY_MESSAGE.get((status, message or ""))
    if known is not None:
        return known()
    if status == 400 and message is not None and message.startswith("The amount is below"):
        return AmountBelowMinimum(message.rsplit(" of ", 1)[-1])
    if status == 400:
        return BadRequest(message)
    return ApiRefusal(status, message or f"The request was refused ({status})")


class PaymentsElsewhere:
    """The client's payment gateway: none. The payments service charges; the client only names the provider.

    The pages need the provider's name (the fake cards, or Stripe.js with its publishable key)
    and never move money themselves, so the client holds no provider secret: every call that
    would is refused.

    Args:
        name: The provider ``EVENTHIVE_PAYMENT_PROVIDER`` names.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _refuse(self) -> PaymentProviderError:
        return PaymentProviderError("The client service takes no payment: the payments service does, behind the API")

    def minimum_charge(self, currency: str) -> int:
        """Refused: the payments service knows the provider's minimum."""
        raise self._refuse()

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Refused: the payments service charges."""
        raise self._refuse()

    def cancel(self, *, provider_ref: str | None, idempotency_key: str) -> ChargeResult:
        """Refused: the payments service cancels its attempts."""
        raise self._refuse()

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refused: the payments service refunds."""
        raise self._refuse()

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Refused: the provider's webhooks go to the payments service."""
        raise self._refuse()


def forwarded_headers(remote_addr: str | None, scheme: str, host: str) -> dict[str, str]:
    """Return the ``X-Forwarded-*`` headers that tell the API about the browser's request.

    Args:
        remote_addr: The browser's address as this process sees it (after its own
            ``EVENTHIVE_PROXY_HOPS``), or None when unknown.
        scheme: The scheme the browser used (``https`` behind a TLS front).
        host: The host (and port) the browser asked for.

    Examples:
        >>> forwarded_headers("203.0.113.7", "https", "eventhive.dev")
        {'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'eventhive.dev'}
    """
    headers = {"X-Forwarded-Proto": scheme, "X-Forwarded-Host": host}
    if remote_addr:
        headers = {"X-Forwarded-For": remote_addr, **headers}
    return headers


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise EventHiveError()
    return int(value)


def _reason(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventHiveError()
    return value


def _page_cursor(link: str | None) -> str | None:
    # The API's Link header: <https://front/api/tickets?cursor=...>; rel="next"
    if not link or 'rel="next"' not in link:
        return None
    target = link.split(";", 1)[0].strip().strip("<>")
    cursors = parse_qs(urlsplit(target).query).get("cursor")
    return cursors[0] if cursors else None


class HttpClient:
    """The pages' calls as requests to the JSON API, for one browser request.

    Args:
        api_url: Where the API's paths hang (``http://front``: calls go to ``http://front/api/...``).
        cookie_name: The token cookie's name (``EVENTHIVE_COOKIE_NAME``, the same on both sides).
        token: The browser's token cookie, or None.
        currency: The currency of the API's prices (``EVENTHIVE_CURRENCY``, the same on both sides).
        clock: Where the countdown's "now" comes from.
        timeout: Seconds to wait to connect, and then between bytes of the answer.
        forwarded: Headers sent with every call, ``X-Forwarded-For``, ``-Proto`` and ``-Host`` of
            the browser's request (:func:`forwarded_headers`): a front that trusts the client
            passes them on, so the API's rate limits count the browser's address and its cookies
            and links follow the browser's scheme and host.
    """

    def __init__(
        self,
        api_url: str,
        *,
        cookie_name: str,
        token: str | None,
        currency: str,
        clock: Clock,
        timeout: float,
        forwarded: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"EVENTHIVE_API_URL must be an http(s) address, got {api_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._root = parts.path.rstrip("/") + "/api"
        self._cookie_name = cookie_name
        self._token = token
        self._currency = currency
        self._clock = clock
        self._timeout = timeout
        self._forwarded = dict(forwarded or {})
        self._set_cookies: list[str] = []
        self._identity: tuple[Identity | None] | None = None

    # --- the wire ---------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: object = None,
        query: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[object, http.client.HTTPResponse]:
        target = self._root + path
        args = {key: value for key, value in (query or {}).items() if value is not None}
        if args:
            target += "?" + urlencode(args)
        sent = {"Accept": "application/json", **self._forwarded, **(headers or {})}
        if self._token is not None:
            sent["Cookie"] = f"{self._cookie_name}={self._token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(method, target, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ApiUnavailable() from exc
        finally:
            connection.close()
        self._set_cookies.extend(response.headers.get_all("Set-Cookie") or [])
        if response.status >= 400:
            raise refusal_from(response.status, raw)
        if not raw:
            return None, response
        try:
            # Prices are decimals: parsed as Decimal, never through a float.
            return json.loads(raw, parse_float=Decimal), response
        except ValueError as exc:
            raise EventHiveError() from exc

    def _object(self, value: object) -> dict[str, object]:
        if not isinstance(value, dict):
            raise EventHiveError()
        return value

    def _list(self, value: object) -> list[dict[str, object]]:
        if not isinstance(value, list):
            raise EventHiveError()
        return [self._object(item) for item in value]

    # --- views from bodies ------------------------------------------------------------------------

    def _money(self, value: object) -> Money:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EventHiveError()
        return Money.from_decimal(Decimal(value), self._currency)

    def _ticket(self, body: object) -> TicketView:
        ticket = self._object(body)
        capacity, available = int(str(ticket["capacity"])), int(str(ticket["available"]))
        return TicketView(
            id=str(ticket["id"]),
            title=str(ticket["title"]),
            price=self._money(ticket["price"]),
            owner_id=str(ticket["userId"]),
            capacity=capacity,
            available=available,
            # An older API tells free units only: the others count as held.
            held=_count(ticket.get("held", capacity - available)),
            sold=_count(ticket.get("sold", 0)),
            version=int(str(ticket["version"])),
            created_at=UNKNOWN_TIME,
        )

    def _order(self, body: object) -> OrderView:
        order = self._object(body)
        ticket = self._object(order["ticket"])
        price = self._money(ticket["price"])
        quantity = int(str(order["quantity"]))
        return OrderView(
            id=str(order["id"]),
            status=OrderStatus(str(order["status"])),
            buyer_id=str(order["userId"]),
            quantity=quantity,
            amount=Money(price.minor * quantity, price.currency),
            expires_at=datetime.fromisoformat(str(order["expiresAt"])),
            created_at=UNKNOWN_TIME,
            version=int(str(order["version"])),
            cancel_reason=_reason(order.get("cancelReason")),
            ticket=TicketSummary(str(ticket["id"]), str(ticket["title"]), price, int(str(ticket["version"]))),
        )

    def _tickets(self, query: Mapping[str, str | None]) -> Page[TicketView]:
        body, response = self._call("GET", "/tickets", query=query)
        items = tuple(self._ticket(item) for item in self._list(body))
        return Page(items, _page_cursor(response.getheader("Link")))

    # --- the port ---------------------------------------------------------------------------------

    def signed_in(self) -> Identity | None:
        """Ask the API who the token belongs to (``GET /api/users/currentuser``), once per browser request.

        The API's answer counts, not the token's signature: only the API's services hear of
        sign-outs and bans, so only they know a token that verifies is no longer good.
        """
        if self._identity is None:
            self._identity = (self._current_user(),)
        return self._identity[0]

    def _current_user(self) -> Identity | None:
        if self._token is None:
            return None
        body, _ = self._call("GET", "/users/currentuser")
        user = self._object(body).get("currentUser")
        if user is None:
            return None
        user = self._object(user)
        issued_at = datetime.fromtimestamp(int(str(user["iat"])), UTC)
        # The API does not say when the token expires, nor its id: the pages use neither.
        claims = TokenClaims(str(user["id"]), str(user["email"]), "", issued_at, issued_at)
        return Identity(user_id=str(user["id"]), email=str(user["email"]), claims=claims)

    def now(self) -> datetime:
        """Return this process's time (the client's clock; keep the machines' clocks in step)."""
        return self._clock.now()

    def available_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """``GET /api/tickets``."""
        return self._tickets({"cursor": cursor})

    def my_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """``GET /api/tickets?owner=me``."""
        return self._tickets({"owner": "me", "cursor": cursor})

    def ticket(self, ticket_id: str) -> TicketView:
        """``GET /api/tickets/<id>``."""
        body, _ = self._call("GET", f"/tickets/{quote(ticket_id, safe='')}")
        return self._ticket(body)

    def create_ticket(self, title: str, price: str, capacity: int) -> TicketView:
        """``POST /api/tickets``."""
        body, _ = self._call("POST", "/tickets", {"title": title, "price": price, "capacity": capacity})
        return self._ticket(body)

    def place_order(self, ticket_id: str, quantity: int, idempotency_key: str | None) -> OrderView:
        """``POST /api/orders``, with the form's key as the ``Idempotency-Key``."""
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        body, _ = self._call("POST", "/orders", {"ticketId": ticket_id, "quantity": quantity}, headers=headers)
        return self._order(body)

    def order(self, order_id: str) -> OrderView:
        """``GET /api/orders/<id>``."""
        body, _ = self._call("GET", f"/orders/{quote(order_id, safe='')}")
        return self._order(body)

    def my_orders(self, cursor: str | None = None) -> Page[OrderView]:
        """``GET /api/orders``."""
        body, response = self._call("GET", "/orders", query={"cursor": cursor})
        items = tuple(self._order(item) for item in self._list(body))
        return Page(items, _page_cursor(response.getheader("Link")))

    def cancel_order(self, order_id: str) -> None:
        """``DELETE /api/orders/<id>``."""
        self._call("DELETE", f"/orders/{quote(order_id, safe='')}")

    def pay(self, order_id: str, token: str) -> None:
        """``POST /api/payments``."""
        self._call("POST", "/payments", {"orderId": order_id, "token": token})

    def sign_up(self, email: str, password: str) -> None:
        """``POST /api/users/signup``; its cookie goes to the browser."""
        self._call("POST", "/users/signup", {"email": email, "password": password})

    def sign_in(self, email: str, password: str) -> None:
        """``POST /api/users/signin``; its cookie goes to the browser."""
        self._call("POST", "/users/signin", {"email": email, "password": password})

    def sign_out(self) -> None:
        """``POST /api/users/signout`` when there is a token; a refusal changes nothing for the browser."""
        if self._token is None:
            return
        try:
            self._call("POST", "/users/signout", {})
        except EventHiveError:
            # An expired or revoked token, or the API down: clearing the cookie (the page's part) is
            # all the browser can do; the token lapses at its expiry anyway.
            return

    def pass_cookies(self, response: Response) -> None:
        """Add the API's ``Set-Cookie`` headers, as the API wrote them, to the browser's response."""
        for header in self._set_cookies:
            response.headers.add("Set-Cookie", header)


__all__ = [
    "UNKNOWN_TIME",
    "ApiRefusal",
    "ApiUnavailable",
    "HttpClient",
    "PaymentsElsewhere",
    "forwarded_headers",
    "refusal_from",
]
